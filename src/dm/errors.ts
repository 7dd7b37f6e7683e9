/**
 * DmError: a failed device-mapper ioctl, keeping the errno, the device and
 * the operation so callers can tell EBUSY from ENXIO, with a message that
 * says what it means for that operation and a hint for the way out. The
 * facts that make a message useful (mounts, holders, the kernel's own
 * complaint) are gathered by the client and passed in: this file is pure.
 */
import { SnapstoreError } from '../errors.js';
import { errnoCode, strerror } from '../linux/errno.js';

export type DmOperation =
  | 'open'
  | 'version'
  | 'create'
  | 'load'
  | 'suspend'
  | 'resume'
  | 'remove'
  | 'clear'
  | 'info'
  | 'status'
  | 'table'
  | 'list'
  | 'wait'
  | 'deps'
  | 'target-versions';

export interface DmErrorContext {
  /** Where the device (or, for load, a device of the table) is mounted: "254:0 on /data". */
  readonly mounts?: readonly string[];
  /** dm devices stacked on the device. */
  readonly holders?: readonly string[];
  readonly openCount?: number;
  /** Our own finding about a refused table (a segment past its device's end, an unknown target type). */
  readonly tableProblem?: string;
  /** The last device-mapper line of the kernel log. */
  readonly kernelLog?: string;
}

export class DmError extends SnapstoreError {
  override name = 'DmError';
  readonly errno: number;
  readonly device: string | undefined;
  readonly operation: DmOperation;

  constructor(operation: DmOperation, device: string | undefined, errno: number, message: string, hint: string | undefined, cause?: unknown) {
    super(errnoCode(errno), message, { hint, cause });
    this.errno = errno;
    this.device = device;
    this.operation = operation;
  }
}

const join = (parts: readonly (string | undefined)[]): string => parts.filter((p) => p).join('; ');

export function dmError(operation: DmOperation, device: string | undefined, errno: number, ctx: DmErrorContext = {}, cause?: unknown): DmError {
  const code = errnoCode(errno);
  const what = device ? `${operation} ${device}` : operation;
  const plain = `${strerror(errno)} (${code})`;
  const log = ctx.kernelLog ? `kernel: "${ctx.kernelLog}"` : undefined;
  const make = (message: string, hint?: string) => new DmError(operation, device, errno, message, hint, cause);

  if (code === 'EACCES' || code === 'EPERM') {
    return make(`${what}: device-mapper refused: ${plain}`, 'device-mapper needs root (CAP_SYS_ADMIN): run as root');
  }
  if (operation === 'open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO')) {
    return make(
      `device-mapper is not available: ${device ?? '/dev/mapper/control'}: ${plain}`,
      'load the dm-mod module (modprobe dm-mod) and make sure /dev is a devtmpfs',
    );
  }
  if ((code === 'ENXIO' || code === 'ENOENT') && operation !== 'load') {
    return make(`${what}: there is no device-mapper device ${device ? `"${device}"` : ''} (${code})`, 'it may have been removed meanwhile; `dmsetup ls` lists the devices');
  }
  if (code === 'EBUSY') {
    switch (operation) {
      case 'create':
        return make(`${what}: a device-mapper device with this name or uuid already exists (EBUSY)`, 'remove the old device first, or use another name');
      case 'remove': {
        const uses = join([
          ctx.mounts?.length ? `mounted: ${ctx.mounts.join(', ')}` : undefined,
          ctx.holders?.length ? `held by ${ctx.holders.join(', ')}` : undefined,
          ctx.openCount ? `open ${ctx.openCount} time(s)` : undefined,
        ]);
        return make(`${what}: the device is in use (EBUSY)${uses ? `: ${uses}` : ''}`, ctx.mounts?.length ? 'unmount it first' : ctx.holders?.length ? 'remove the devices stacked on it first' : 'close whatever has it open, then retry');
      }
      case 'load':
        return make(
          `${what}: a device in the table is held exclusively (EBUSY)${ctx.mounts?.length ? `: ${ctx.mounts.join(', ')}` : ''}${log ? `; ${log}` : ''}`,
          'a device with a mounted filesystem cannot be used by another dm table; map the device below it, or unmount it',
        );
      default:
        return make(`${what}: the device is busy (EBUSY)`, 'retry once the device is no longer in use');
    }
  }
  if (operation === 'load' && (code === 'EINVAL' || code === 'ENXIO' || code === 'ENOENT' || code === 'ENODEV')) {
    return make(
      `${what}: the kernel refused the table: ${plain}${ctx.tableProblem ? `; ${ctx.tableProblem}` : ''}${log ? `; ${log}` : ''}`,
      'device-mapper writes the reason to the kernel log: dmesg | grep device-mapper',
    );
  }
  return make(`${what}: ${plain}${log ? `; ${log}` : ''}`);
}
