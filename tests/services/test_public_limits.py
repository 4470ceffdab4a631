"""The public-files limits are config: the `file` verb's size cap and the path-length cap."""
from __future__ import annotations

import pytest

from hero.errors import HeroError
from hero.spec_helper import SpecHelper
from tests.support.apps import write_app


@pytest.fixture
def helper(tmp_path):
    root = write_app(tmp_path, {"public/small.txt": "tiny\n", "public/big.txt": "x" * 200 + "\n",
                                "config.py": 'web = {"max_file_read_bytes": 100, "max_file_path_chars": 40}\n'})
    booted = SpecHelper.boot(root, environ={})
    yield booted
    booted.stop()


def test_the_file_verb_refuses_a_file_over_web_max_file_read_bytes(helper):
    assert helper.api.public.read("small.txt")["content"] == "tiny\n"
    with pytest.raises(HeroError) as refused:
        helper.api.public.read("big.txt")
    assert refused.value.status == 413 and "(100 bytes max)" in refused.value.message


def test_a_path_over_web_max_file_path_chars_is_not_found(helper):
    with pytest.raises(HeroError) as missing:
        helper.api.public.read("a/" * 30 + "small.txt")
    assert missing.value.status == 404
    assert helper.api.public.resolve("small.txt") is not None
    assert helper.api.public.resolve("./" * 20 + "small.txt") is None  # 49 characters: over the cap
