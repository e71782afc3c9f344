// The result types of LetsData's reader interfaces, as plain objects: what a
// QueueMessageReader returns for each message (a ParseDocumentResult holding a Document, an
// ErrorDoc or a SkipDoc).

export const DocumentType = { Document: "Document", ErrorDoc: "ErrorDoc", SkipDoc: "SkipDoc" };
export const ParseDocumentResultStatus = { SUCCESS: "SUCCESS", ERROR: "ERROR", SKIP: "SKIP" };

export function document(documentId, recordType, partitionKey, documentKeyValuesMap) {
  return {
    documentType: DocumentType.Document,
    documentId,
    recordType,
    partitionKey,
    documentMetadata: null,
    documentKeyValuesMap,
  };
}

// A record that is not a document: where it is (the message id) and why.
function recordDoc(documentType, messageId, recordType, reasonField, reason) {
  const where = { sqsMessageId: messageId };
  return {
    documentType,
    documentId: messageId,
    recordType,
    partitionKey: null,
    documentMetadata: null,
    documentKeyValuesMap: null,
    errorStartoffsetMap: where,
    errorEndoffsetMap: where,
    [reasonField]: reason,
  };
}

// An error record: which message, and why it could not be read.
export function errorDoc(messageId, recordType, errorMessage) {
  return recordDoc(DocumentType.ErrorDoc, messageId, recordType, "errorMessage", errorMessage);
}

export function skipDoc(messageId, recordType, skipMessage) {
  return recordDoc(DocumentType.SkipDoc, messageId, recordType, "skipMessage", skipMessage);
}

export function parseDocumentResult(doc) {
  const status = {
    [DocumentType.Document]: ParseDocumentResultStatus.SUCCESS,
    [DocumentType.ErrorDoc]: ParseDocumentResultStatus.ERROR,
    [DocumentType.SkipDoc]: ParseDocumentResultStatus.SKIP,
  }[doc.documentType];
  return { nextRecordType: null, document: doc, status };
}
