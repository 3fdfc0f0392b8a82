/**
 * Runs tasks one after another. The faucet's and the relay's accounts each send from one nonce
 * sequence: two requests at once would otherwise read the same pending nonce and one would be
 * refused ("nonce has already been used").
 */
export function createSerialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>) => {
    const result = tail.then(task);
    tail = result.catch(() => undefined);
    return result;
  };
}
