/** How the insights formatters print figures: the table and the HTML must agree. */
export const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

export const hours = (value: number | null) => (value === null ? '-' : `${value.toFixed(1)} h`);
