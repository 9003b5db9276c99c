"""Imports every domain's models so ``metadata`` is complete (Alembic, tests). Add new domains here."""

from kechuang.accounts import models as accounts_models  # noqa: F401
from kechuang.commitments import models as commitments_models  # noqa: F401
from kechuang.core import audit  # noqa: F401
from kechuang.db import Base
from kechuang.policy import models as policy_models  # noqa: F401
from kechuang.policy import version_models as policy_version_models  # noqa: F401
from kechuang.registry import models as registry_models  # noqa: F401
from kechuang.science import models as science_models  # noqa: F401
from kechuang.talent import models as talent_models  # noqa: F401
from kechuang.transfer import models as transfer_models  # noqa: F401

metadata = Base.metadata
