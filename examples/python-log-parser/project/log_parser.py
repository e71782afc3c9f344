"""LetsData's SingleFileParser for JSON log lines such as
{"ts": 1647352053448, "lvl": "ERROR", "hnm": "host-1", "msg": "..."}: ERROR lines become
documents, other levels are skipped, lines that are not JSON are error records."""
import json
import logging

logger = logging.getLogger(__name__)

FILE_TYPE = "LOGFILE"


class Document:
    def __init__(self, documentType, documentId, recordType, partitionKey, documentMetadata,
                 documentKeyValuesMap):
        self.documentType = documentType
        self.documentId = documentId
        self.recordType = recordType
        self.partitionKey = partitionKey
        self.documentMetadata = documentMetadata
        self.documentKeyValuesMap = documentKeyValuesMap


class ErrorDoc(Document):
    def __init__(self, documentId, recordType, partitionKey, documentMetadata,
                 documentKeyValuesMap, errorStartoffsetMap, errorEndoffsetMap, errorMessage):
        super().__init__("ErrorDoc", documentId, recordType, partitionKey, documentMetadata,
                         documentKeyValuesMap)
        self.errorStartoffsetMap = errorStartoffsetMap
        self.errorEndoffsetMap = errorEndoffsetMap
        self.errorMessage = errorMessage


class SkipDoc(Document):
    def __init__(self, documentId, recordType, partitionKey, documentMetadata,
                 documentKeyValuesMap, errorStartoffsetMap, errorEndoffsetMap, skipMessage):
        super().__init__("SkipDoc", documentId, recordType, partitionKey, documentMetadata,
                         documentKeyValuesMap)
        self.errorStartoffsetMap = errorStartoffsetMap
        self.errorEndoffsetMap = errorEndoffsetMap
        self.skipMessage = skipMessage


class RecordParseHint:
    def __init__(self, recordHintType, pattern, offset):
        self.recordHintType = recordHintType
        self.pattern = pattern
        self.offset = offset


class ParseDocumentResult:
    def __init__(self, nextRecordType, document, status):
        self.nextRecordType = nextRecordType
        self.document = document
        self.status = status


class SingleFileParser:
    def getS3FileType(self):
        return FILE_TYPE

    def getResolvedS3FileName(self, s3FileType, fileName):
        assert s3FileType == FILE_TYPE, "unexpected file type " + s3FileType
        return fileName

    def getRecordStartPattern(self, s3FileType):
        return RecordParseHint("PATTERN", "{\"ts\"", -1)

    def getRecordEndPattern(self, s3FileType):
        return RecordParseHint("PATTERN", "}\n", -1)

    def parseDocument(self, s3FileType, s3Filename, offsetBytes, byteArr, startIndex, endIndex):
        offsets = {s3FileType: str(offsetBytes)}
        text = bytes(byteArr[startIndex:endIndex]).decode("utf-8")
        try:
            line = json.loads(text)
            ts = line["ts"]
        except (ValueError, KeyError) as e:
            logger.warning("not a log line at offset %d of %s: %s", offsetBytes, s3Filename, e)
            return ParseDocumentResult(None, ErrorDoc(None, None, s3Filename, None, None, offsets,
                                                      offsets, "not a JSON log line: %s" % e),
                                       "ERROR")
        if line.get("lvl") != "ERROR":
            return ParseDocumentResult(None, SkipDoc(None, None, s3Filename, None, None, offsets,
                                                     offsets, "level is not ERROR"), "SKIP")
        doc_id = "%s-%s" % (ts, offsetBytes)
        body = {"ts": ts, "host": line.get("hnm"), "message": line.get("msg"),
                "file": s3Filename}
        return ParseDocumentResult(None, Document("Document", doc_id, "ERROR", s3Filename,
                                                  {"offset": offsetBytes}, body), "SUCCESS")
