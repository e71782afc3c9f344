"""Datasets of one-line JSON files for the server benchmarks (bench/server_load.sh,
bench/console_pages.sh), on the embedded default's local buckets.

    python3 bench/one_line_datasets.py WORK BUCKETS NAME:BUCKET:FILES [NAME:BUCKET:FILES ...]

For each NAME:BUCKET:FILES: FILES files of one line each (`{"id": i}`) under BUCKETS/BUCKET/in/,
their manifest BUCKETS/BUCKET/manifest.txt, and the dataset's configuration WORK/NAME.json
(built-in jsonl parser, S3 in, S3 out, concurrency 2).
"""
import json
import os
import sys


def dataset(work, buckets, name, bucket, files):
    os.makedirs(f"{buckets}/{bucket}/in", exist_ok=True)
    for i in range(files):
        with open(f"{buckets}/{bucket}/in/f{i:07d}.jsonl", "w") as f:
            f.write(json.dumps({"id": i}) + "\n")
    with open(f"{buckets}/{bucket}/manifest.txt", "w") as f:
        f.write("".join(f"in/f{i:07d}.jsonl\n" for i in range(files)))
    config = {
        "datasetName": name, "region": "us-east-1",
        "readConnector": {"connectorDestination": "S3", "readerType": "Single File Reader",
                          "bucketName": bucket, "bucketResourceLocation": "Customer",
                          "artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl"},
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2},
        "manifestFile": {"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER",
                         "manifestFileS3Uri": f"s3://{bucket}/manifest.txt"},
    }
    with open(f"{work}/{name}.json", "w") as f:
        json.dump(config, f)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    work, buckets = sys.argv[1], sys.argv[2]
    for spec in sys.argv[3:]:
        name, bucket, files = spec.split(":")
        dataset(work, buckets, name, bucket, int(files))
