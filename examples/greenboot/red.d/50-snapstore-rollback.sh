#!/bin/sh
# greenboot red.d (run by bash when the boot's health checks failed): the data
# filesystem goes back to the checkpoint, merged at the next boot's
# `snapstore activate` before it is mounted. Nothing to do without a checkpoint.
exec snapstore-ostree rollback
