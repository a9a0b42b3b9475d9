import { readFile } from "fs";

/**
 * Adds two numbers.
 */
export function add(a, b) {
  return a + b;
}

export default class Cache {
  constructor(limit) {
    this.limit = limit;
  }

  get(key) {
    return this.map.get(key);
  }

  onEvict = (key) => {
    console.log(key);
  };
}

const double = (x) => x * 2;

function* ids() {
  yield 1;
}
