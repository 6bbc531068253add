"""Chinese names of catalogue vocabularies, used by forms, pages and error messages."""
from __future__ import annotations

SHARE_TYPE = {"unconditional": "无条件共享", "conditional": "有条件共享", "not_shared": "不予共享"}
SHARE_METHOD = {"database_table": "数据库表", "api": "API接口", "file": "文件"}
RESOURCE_FORMAT = {"database": "数据库", "api": "接口", "file": "文件", "spreadsheet": "电子表格",
                   "image": "图像", "other": "其他"}
OPEN_ATTRIBUTE = {"open": "无条件开放", "conditional_open": "有条件开放", "not_open": "不予开放"}
UPDATE_CYCLE = {"realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月",
                "quarterly": "每季度", "yearly": "每年", "irregular": "不定期"}
AUTHORISATION_MODE = {"provider": "提供部门授权", "platform": "平台授权"}
PUBLISH_STATE = {"draft": "草稿", "under_review": "审核中", "published": "已发布", "revoked": "已撤销"}
GRANT_STATUS = {"active": "有效", "expired": "已到期", "withdrawn": "已收回", "suspended": "已暂停"}
DATA_TYPE = {"string": "字符串", "integer": "整数", "decimal": "数值", "date": "日期",
             "datetime": "日期时间", "boolean": "布尔", "binary": "二进制"}
