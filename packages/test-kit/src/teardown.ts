/** The slice of tap's Test the kit's helpers use: they close what they open when the test ends. */
export interface Teardown { teardown (fn: () => unknown): void }
