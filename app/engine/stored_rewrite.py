"""Rewriting stored diagram versions, for a data migration only.

A deployed version is immutable: an editor's change is a new version. When the *product*
renames something the shipped diagrams refer to (a form field a condition reads, a deadline a
timer asks for), the versions instances still run on must say it the new way, or those
instances fail the next time they reach it. The migration names the exact old texts; this
replaces them, recomputes the content hash, and — where the rewritten version is identical to
one already stored — hands its instances over to that version instead of storing a twin.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.engine.definitions import content_hash

definition = sa.table("process_definition", sa.column("id", sa.Integer), sa.column("bpmn_xml", sa.Text),
                      sa.column("content_hash", sa.String))
instance = sa.table("process_instance", sa.column("id", sa.Integer), sa.column("definition_id", sa.Integer))


def rewrite_definitions(conn: sa.Connection, replacements: dict[str, str]) -> int:
    """Replace each key of `replacements` by its value in every stored version; the number of
    versions changed."""
    hashes = dict(conn.execute(sa.select(definition.c.content_hash, definition.c.id)).all())
    count = 0
    for row in conn.execute(sa.select(definition.c.id, definition.c.bpmn_xml)).all():
        xml = row.bpmn_xml
        for old, new in replacements.items():
            xml = xml.replace(old, new)
        if xml == row.bpmn_xml:
            continue
        digest = content_hash(xml.encode("utf-8"))
        if digest in hashes:  # the rewritten version is one already stored: its instances move there
            conn.execute(instance.update().where(instance.c.definition_id == row.id)
                         .values(definition_id=hashes[digest]))
        else:
            conn.execute(definition.update().where(definition.c.id == row.id)
                         .values(bpmn_xml=xml, content_hash=digest))
            hashes[digest] = row.id
        count += 1
    return count
