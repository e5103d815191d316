/**
 * The value the Pulumi engine sends for an input that is not known yet (an output of a resource that
 * is still to be created). Validation lets it through; the plan carries it to the preview unchanged.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
