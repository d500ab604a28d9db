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
    # A pooling region's bureau (医保局/经办机构): printed on its notices; publishing is
    # refused until both are filled in (ltc.notices). "" on towns and villages.
    bureau_address = Varchar(length=200, null=False, default="")
    bureau_phone = Varchar(length=30, null=False, default="")
    # A pooling region's own pattern for organisation national codes (a regular expression);
    # "" uses the default (ltc.organisations.rules.default_code_pattern).
    organisation_code_pattern = Varchar(length=200, null=False, default="")
