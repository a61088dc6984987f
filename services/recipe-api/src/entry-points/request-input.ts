/** Present in every answer of recipe-api, as the producer of "Distributed Systems with Node.js" does. */
export const producerPid = process.pid;
