// Transitional alias of src/node.ts (the Node entry); removed once every import uses ./node.
export * from "./node";
