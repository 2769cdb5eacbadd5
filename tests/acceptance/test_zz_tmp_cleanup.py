import time
import pytest
from .harness import CoreStack

@pytest.mark.acceptance
@pytest.mark.timeout(8)
def test_tmp(core: CoreStack) -> None:
    time.sleep(30)
