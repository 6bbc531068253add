"""`flask attachments import-folder`: move folder-kept attachment content into the database."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.catalog.attachments import import_folder

attachments_cli = AppGroup("attachments", help="附件 / attachments")


@attachments_cli.command("import-folder")
def import_folder_command() -> None:
    """Copy attachment content kept in ATTACHMENT_DIR into the database (checked by sha256)."""
    imported, problems = import_folder()
    for sha in problems:
        click.echo(f"附件内容 {sha}：文件缺失或与哈希不符，未导入", err=True)
    click.echo(f"已导入 {imported} 个附件内容到数据库")
    if problems:
        sys.exit(1)
