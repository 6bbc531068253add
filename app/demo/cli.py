"""`flask demo seed`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.demo.data import DEMO_PASSWORD
from app.demo.seed import seed

demo_cli = AppGroup("demo", help="演示数据 / demo data")


@demo_cli.command("seed")
def seed_command() -> None:
    """Create the demo city (safe to run again: existing rows are kept)."""
    counts = seed()
    click.echo(f"演示数据就绪：{counts['departments']} 个部门，{counts['users']} 个用户，"
               f"{counts['entries']} 个目录条目。演示密码：{DEMO_PASSWORD}")
