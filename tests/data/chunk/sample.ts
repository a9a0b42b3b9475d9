export interface User {
  id: number;
  name: string;
}

type Id = string | number;

export enum Color {
  Red,
  Green,
}

namespace Util {
  export function clamp(x: number): number {
    return Math.max(0, x);
  }
}

export abstract class Repo<T> {
  @cached()
  find(id: Id): T | undefined {
    return undefined;
  }
}
