#!/bin/sh
# greenboot green.d (run by bash at every green boot): the boot is healthy, so the
# data the new deployment wrote is kept and the checkpoint dropped. Nothing to do
# on a boot that follows no update.
exec snapstore-ostree commit
