"""Loads SQLAlchemy's test plugin for the third-party dialect suite (run on its own: see
README.md in this folder; the plugin reads test.cfg from the working directory)."""

import pytest
from sqlalchemy.dialects import registry

registry.register("strata", "dialect.sqla.driver", "StrataDialect_strata")
registry.register("strata.memory", "dialect.sqla.driver", "StrataDialect_strata")

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403
