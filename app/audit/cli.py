"""`flask audit verify`: check the hash chain; non-zero exit on tampering."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.audit.log import verify_chain

audit_cli = AppGroup("audit", help="审计日志 / audit log")


@audit_cli.command("verify")
def verify() -> None:
    """Verify the audit log's hash chain."""
    checked, problems = verify_chain()
    for p in problems:
        click.echo(f"记录 #{p.entry_id}: {p.reason}", err=True)
    if problems:
        click.echo(f"审计日志校验失败：{len(problems)} 处问题（共检查 {checked} 条）", err=True)
        sys.exit(1)
    click.echo(f"审计日志完整：共 {checked} 条记录，哈希链无断点")
