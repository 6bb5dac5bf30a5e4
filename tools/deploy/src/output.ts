/** The format of the JSON request files every provider writes. */
export const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
