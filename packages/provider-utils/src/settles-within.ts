/** Whether `promise` settles (either way) within `ms`; it is never awaited past that. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settled = () => {
      clearTimeout(timer);
      resolve(true);
    };
    void promise.then(settled, settled);
  });
}
