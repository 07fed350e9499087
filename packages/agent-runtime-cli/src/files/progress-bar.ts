/** Counts a transfer's bytes, and shows them on a terminal while it lasts. */
export interface TransferProgress {
  add(bytes: number): void;
  /** Clears the line, if one was drawn. */
  done(): void;
}

interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Nothing is drawn for a transfer shorter than this: small copies stay silent. */
const quietMs = 500;
const redrawMs = 100;

/**
 * One line on `out` (stderr) that redraws itself as bytes move: a bar and the percentage when
 * the total is known, the bytes so far and the mean rate. Only on a terminal, and only once the
 * transfer has taken half a second; redrawn at most ten times a second, from the transfer's own
 * progress (no timer keeps the process alive).
 */
export function transferProgress(
  label: string,
  total: number | undefined,
  out: Terminal = process.stderr,
  now: () => number = () => performance.now(),
): TransferProgress {
  if (!out.isTTY) return { add() {}, done() {} };
  const started = now();
  let bytes = 0;
  let drawnAt: number | undefined;
  return {
    add(count) {
      bytes += count;
      const at = now();
      if (at - started < quietMs || (drawnAt !== undefined && at - drawnAt < redrawMs)) return;
      drawnAt = at;
      const line = progressLine(label, bytes, total, (at - started) / 1000, out.columns ?? 80);
      out.write(`\r${line}\x1b[K`);
    },
    done() {
      if (drawnAt !== undefined) out.write("\r\x1b[K");
    },
  };
}

/** "label [#####     ]  50%  1.0 MiB / 2.0 MiB  4.0 MiB/s", fitted to `columns`. */
export function progressLine(
  label: string,
  bytes: number,
  total: number | undefined,
  seconds: number,
  columns: number,
): string {
  const rate = seconds > 0 ? `${formatBytes(bytes / seconds)}/s` : "";
  if (total === undefined || total <= 0) {
    return clipToWidth(`${label}  ${formatBytes(bytes)}  ${rate}`, columns);
  }
  const share = Math.min(1, bytes / total);
  const numbers = `${String(Math.floor(share * 100)).padStart(3)}%  ${formatBytes(bytes)} / ${formatBytes(total)}  ${rate}`;
  const room = columns - 1 - label.length - numbers.length - 6;
  if (room < 10) return clipToWidth(`${label}  ${numbers}`, columns);
  const width = Math.min(40, room);
  const filled = Math.round(share * width);
  return `${label}  [${"#".repeat(filled)}${" ".repeat(width - filled)}]  ${numbers}`;
}

export function formatBytes(value: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function clipToWidth(line: string, columns: number): string {
  return line.length < columns ? line : line.slice(0, Math.max(0, columns - 1));
}
