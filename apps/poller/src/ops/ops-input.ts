import { BadRequestException, type PipeTransform } from '@nestjs/common';

/** PostgreSQL's `integer`: a larger filter would fail in the database (500) instead of at the boundary. */
const MAX_INT4 = 2_147_483_647;

/**
 * A text value from a path, query or body, checked before it reaches PostgreSQL: text columns refuse NUL
 * and jsonb refuses a lone surrogate, and either would surface as a 500. The message names the field and
 * never echoes the value (it may be anything an attacker sent).
 */
export function textInput(field: string, value: string, maxLength: number): string {
  if (value.length > maxLength) throw new BadRequestException(`${field} must be at most ${maxLength} characters`);
  if (value.includes('\u0000')) throw new BadRequestException(`${field} must not contain the NUL character (\\u0000)`);
  // In `u` mode a paired surrogate is one code point, so this matches only a lone one.
  if (/\p{Cs}/u.test(value)) throw new BadRequestException(`${field} must be well-formed Unicode (no lone surrogates)`);
  return value;
}

/** `@Param('id', new TextInput('id'))`: ids and filters; an absent query parameter stays undefined. */
export class TextInput implements PipeTransform<string | undefined, string | undefined> {
  constructor(
    private readonly field: string,
    private readonly maxLength = 300,
  ) {}

  transform(value: string | undefined): string | undefined {
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new BadRequestException(`${this.field} must be given once, as text`);
    return textInput(this.field, value, this.maxLength);
  }
}

/** `@Query('pass', new IntegerInput('pass'))`: a non-negative integer that fits PostgreSQL's `integer`. */
export class IntegerInput implements PipeTransform<string | undefined, number | undefined> {
  constructor(private readonly field: string) {}

  transform(value: string | undefined): number | undefined {
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string' || !/^\d{1,10}$/.test(value) || Number(value) > MAX_INT4) {
      throw new BadRequestException(`query parameter ${this.field} must be an integer from 0 to ${MAX_INT4}`);
    }
    return Number(value);
  }
}
