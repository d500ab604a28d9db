from piccolo.columns import ForeignKey, OnDelete, Varchar
from piccolo.table import Table


class Region(Table):
    """Pooling region (统筹地区) → town (镇街) → village or community (村居).

    `path` is the chain of codes from the pooling region down ("370983/370983001/…"), so
    "everything in my region" is an indexed prefix match.
    """

    code = Varchar(length=20, unique=True, null=False)
    name = Varchar(length=100, null=False)
    level = Varchar(length=10, null=False, choices=None)  # pooling | town | village
    parent = ForeignKey("self", on_delete=OnDelete.restrict, null=True)
    path = Varchar(length=200, null=False, index=True)
