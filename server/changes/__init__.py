"""Change tracking: what appeared, changed or went away at a business's providers.

Detection rides on the sync worker: an indexed connection's crawl is compared with its
index (`server/store/index.py`), a live connection is watched for what changed since its
watermark and compared with fingerprints. What it finds is appended to the change log
(`log.py`), numbered per business, and from there read by operators (`business-api
changes list`, the operator's GraphQL `Business.changes`) and delivered to webhooks.
"""
