/** A lab failure a person can act on (already up, a part not ready...): printed without a stack. */
export class LabError extends Error {
  override name = 'LabError';
}
