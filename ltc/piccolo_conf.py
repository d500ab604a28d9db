"""Piccolo's configuration module (PICCOLO_CONF=ltc.piccolo_conf).

DB is set by ltc.db.bind() to the engine chosen from the settings; importing this module has
no side effects, so tests and tools can bind whichever database they need.
"""

from piccolo.conf.apps import AppRegistry

DB = None

APP_REGISTRY = AppRegistry(apps=["ltc.piccolo_app"])
