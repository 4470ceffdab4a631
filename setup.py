from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="hero",
    version="0.1.0",
    description="actionhero for Python: actions served over HTTP, WebSockets and TCP, on gevent",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["hero", "hero.*"]),
    package_data={"hero": ["py.typed", "builtin_actions/*.py", "tasks/builtin/*.py"]},
    install_requires=[
        "gevent>=24.2",
        "werkzeug>=3.1,<4",
        "wsproto>=1.2,<2",
        "redis[hiredis]>=5,<9",
        "marshmallow>=4,<5",
        "rq>=2.10,<4",
        "fakeredis[lua]>=2.26,<3",
        "orjson>=3.9",
        "apispec>=6.6,<7",
    ],
    extras_require={
        "gunicorn": ["gunicorn[gevent]>=23"],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "requests>=2.31",
            "websocket-client>=1.7",
            "psutil>=5.9",
            "mypy>=1.10",
            "import-linter>=2.1",
            "gunicorn[gevent]>=23",
            # the official MCP client, which the MCP endpoint's tests drive (1.x: 2025-11-25 and earlier)
            "mcp>=1.23,<2",
            # drives the system's Chromium (executable_path); it never downloads a browser
            "playwright>=1.45",
        ],
    },
    entry_points={
        "console_scripts": ["hero = hero.cli:main"],
        "pytest11": ["hero = hero.pytest_plugin"],
    },
)
