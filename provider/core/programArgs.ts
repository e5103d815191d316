import type * as pulumi from "@pulumi/pulumi";

/**
 * The component's argument types, derived from the provider's one input schema (the SDK keeps no
 * second copy): every value may be a Pulumi Input, except the `kind` that selects a variant, which
 * the program states outright.
 */
export type Inputs<T> = [T] extends [string | number | boolean | null | undefined] ? pulumi.Input<T> : InputsOf<T>;

/** Objects and arrays, distributed over a union's variants (one per `kind`). */
export type InputsOf<T> =
  T extends ReadonlyArray<infer U>
    ? pulumi.Input<Array<Inputs<U>>>
    : T extends object
      ? { [K in keyof T]: K extends "kind" ? T[K] : Inputs<T[K]> }
      : T;

/**
 * With `deployment`, the component reads these from Astro: they may be left out (when neither is
 * given, `check` names the missing field).
 */
export type FromDeployment = "issuerUrl" | "namespace";
export type Loose<T> = T extends object
  ? Omit<T, FromDeployment> & Partial<Pick<T, Extract<keyof T, FromDeployment>>>
  : T;
