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


@demo_cli.command("history")
@click.option("--months", type=click.IntRange(1, 36), default=12, show_default=True, help="生成多少个月的历史")
@click.option("--seed", type=int, default=1, show_default=True, help="随机种子：相同种子生成相同历史")
@click.option("--per-day", type=click.FloatRange(0.1, 20), default=1.5, show_default=True,
              help="每个工作日平均新增申请数")
def history_command(months: int, seed: int, per_day: float) -> None:
    """Fill the demo city with months of finished and open work, run through the real flows on
    a moving clock (a second run adds nothing)."""
    from app.demo.history import generate

    try:
        made = generate(months, seed, per_day)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if not made["applications"]:
        click.echo("演示历史已存在，未重复生成")
        return
    click.echo(f"已生成 {months} 个月的演示历史：{made['applications']} 件共享申请，办理 {made['completed']} 个环节")
