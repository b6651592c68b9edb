"""Settings: env/.env reading, nested variables, and .env.example kept complete."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT
from rag.errors import ConfigError
from rag.settings import Settings, get_settings


def _gen():
    spec = importlib.util.spec_from_file_location("gen_env_example", ROOT / "scripts" / "gen_env_example.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_env_example_lists_every_setting_with_a_comment():
    gen = _gen()
    text = (ROOT / ".env.example").read_text()
    assert text == gen.render(), "stale .env.example: run python scripts/gen_env_example.py"
    for var, _, desc in gen.variables():
        assert f"# {var}=" in text
        assert desc, f"{var} has no description"


def test_readme_configuration_table_is_current():
    gen = _gen()
    readme = (ROOT / "README.md").read_text()
    assert gen.START in readme
    assert readme == gen.readme_with_table(readme), "stale README table: run python scripts/gen_env_example.py"


def test_nested_env_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("RAG_RETRIEVAL__K=7\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\n")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "d"))
    s = Settings()
    assert s.retrieval.k == 7
    assert s.openai_base_url == "http://127.0.0.1:9/v1"
    assert s.data_dir == tmp_path / "d"


def test_invalid_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("RAG_RETRIEVAL__MODE", "psychic")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="RAG_RETRIEVAL__MODE"):
        get_settings()


def test_empty_values_mean_the_default(monkeypatch, tmp_path):
    """RAG_DATA_DIR= used to be Path("") = the current directory (and `rag stats` made ./chroma there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_DATA_DIR", "")
    (tmp_path / ".env").write_text("RAG_LLM__LOCAL_MODEL=\nRAG_EVAL__PUBMEDQA_DIR=  \n")
    s = Settings()
    assert s.data_dir == tmp_path / "home" / ".local" / "share" / "rag-abstracts"
    assert s.llm.local_model == "qwen2.5-coder-1.5b" and s.eval.pubmedqa_dir is None
    monkeypatch.setenv("RAG_DATA_DIR", "   ")
    assert Settings().data_dir == s.data_dir
    assert Settings(_env_file=None, data_dir="").data_dir == s.data_dir
    assert Settings(_env_file=None, llm={"local_model": " "}).llm.local_model == "qwen2.5-coder-1.5b"


def test_secrets_are_never_shown(monkeypatch):
    """Keys and the UI password are SecretStr: repr, str and JSON dumps all mask them."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-key-123")
    monkeypatch.setenv("RAG_UI__PASSWORD", "ui-secret-456")
    monkeypatch.setenv("RAG_EVAL__JUDGE_API_KEY", "judge-secret-789")
    s = Settings(_env_file=None)
    assert s.openai_api_key.get_secret_value() == "sk-secret-key-123"
    for shown in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        for secret in ("sk-secret-key-123", "ui-secret-456", "judge-secret-789"):
            assert secret not in shown


def test_invalid_setting_message_does_not_echo_the_value(monkeypatch):
    monkeypatch.setenv("RAG_UI__MAX_UPLOAD_MB", "sk-looks-like-a-key")
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as err:
        get_settings()
    assert "RAG_UI__MAX_UPLOAD_MB" in str(err.value) and "sk-looks-like-a-key" not in str(err.value)


def test_the_model_check_is_on_by_default():
    # conftest turns it off through the environment for the other tests; the shipped default is on
    from rag.settings import AnswerSettings

    assert AnswerSettings().model_check is True
