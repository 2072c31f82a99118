"""What the pyiceberg reader scripts beside it share.

They run as `python -P SCRIPT` (so that no folder shadows an installed
package), which leaves this folder off sys.path; they add it themselves.
"""
import os

from pyiceberg.catalog.sql import SqlCatalog


def s3_props(location):
    """pyiceberg's S3 settings for an s3:// location, from the environment
    (STOCKLAKE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_REGION, default us-east-1); none for another location."""
    if not location.startswith("s3://"):
        return {}
    return {
        "s3.endpoint": os.environ["STOCKLAKE_S3_ENDPOINT"],
        "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
        "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
    }


def sql_catalog(db, warehouse):
    """The Iceberg SQL catalog "stocklake" in the SQLite file db, with S3
    settings for an s3:// warehouse."""
    return SqlCatalog("stocklake", uri=f"sqlite:///{db}", warehouse=warehouse, **s3_props(warehouse))
