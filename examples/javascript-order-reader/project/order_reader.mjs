// LetsData's QueueMessageReader for order messages such as
//   {"orderId": "o-1001", "customer": "c-17", "items": [{"sku": "A-1", "qty": 2, "price": 9.5}]}
// Each order becomes one document with its item count and total; a message marked
// {"test": true} is skipped; a message that is not an order becomes an error record saying
// what is wrong with it.
import { document, errorDoc, parseDocumentResult, skipDoc } from "./documents.mjs";

const RECORD_TYPE = "Order";

// Why `order` is not an order, or null.
function invalid(order) {
  if (order === null || typeof order !== "object" || Array.isArray(order)) {
    return "the message is not a JSON object";
  }
  if (typeof order.orderId !== "string" || order.orderId === "") {
    return "orderId is missing (a non-empty string is expected)";
  }
  if (typeof order.customer !== "string" || order.customer === "") {
    return `order ${order.orderId}: customer is missing (a non-empty string is expected)`;
  }
  if (!Array.isArray(order.items) || order.items.length === 0) {
    return `order ${order.orderId}: items is missing or empty (a list of {sku, qty, price} is expected)`;
  }
  for (const [i, item] of order.items.entries()) {
    if (typeof item?.sku !== "string" || !Number.isInteger(item?.qty) || item.qty <= 0
        || typeof item?.price !== "number" || item.price < 0) {
      return `order ${order.orderId}: items[${i}] is not {sku: string, qty: positive integer, price: number >= 0}`;
    }
  }
  return null;
}

export class OrderQueueReader {
  // QueueMessageReader.parseMessage(messageId, messageGroupId, messageDeduplicationId,
  // messageAttributes, messageBody)
  parseMessage(messageId, messageGroupId, messageDeduplicationId, messageAttributes, messageBody) {
    let order;
    try {
      order = JSON.parse(messageBody);
    } catch (e) {
      return parseDocumentResult(errorDoc(messageId, RECORD_TYPE, `the message is not JSON: ${e.message}`));
    }
    const why = invalid(order);
    if (why !== null) {
      return parseDocumentResult(errorDoc(messageId, RECORD_TYPE, why));
    }
    if (order.test === true) {
      return parseDocumentResult(skipDoc(messageId, RECORD_TYPE, `order ${order.orderId} is a test order`));
    }
    const cents = order.items.reduce((sum, item) => sum + Math.round(item.price * 100) * item.qty, 0);
    return parseDocumentResult(
      document(order.orderId, RECORD_TYPE, order.customer, {
        orderId: order.orderId,
        customer: order.customer,
        channel: messageAttributes?.channel ?? null,
        itemCount: order.items.reduce((n, item) => n + item.qty, 0),
        skus: order.items.map((item) => item.sku),
        total: cents / 100,
      })
    );
  }
}
