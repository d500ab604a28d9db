"""What other parts of LTC may read of agreements."""

from __future__ import annotations

from ltc import documents
from ltc.agreements.tables import Agreement

# Where the hashes of generated agreement documents are recorded (`ltc evidence verify`).
DOCUMENTS = (documents.Source("协议", Agreement.document_sha256, Agreement.number),)
