import logging

import pytest

from service_common.pii import install_pii_masking, mask_personal_data, mask_phone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("联系电话13800138000", "联系电话138****8000"),
        ("call 138 0013 8000 now", "call 138****8000 now"),
        ("138-0013-8000", "138****8000"),
        ("身份证110101199003071234", "身份证110101********1234"),
        ("mail zhang.wei@example.com", "mail z***@example.com"),
        ('{"name": "张伟", "order_id": "8800001001"}', '{"name": "***", "order_id": "8800001001"}'),
        ("address=北京市朝阳区某路1号", "address=***"),
        # Order numbers (10 digits) and amounts are not personal data.
        ("订单8800001001 金额199.00", "订单8800001001 金额199.00"),
    ],
)
def test_mask_personal_data(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


def test_mask_phone() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("8000") == "****"


def test_every_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_pii_masking()
    install_pii_masking()  # idempotent: masking twice would still be right, but is not done
    with caplog.at_level(logging.INFO):
        logging.getLogger("sanic.access").info("caller %s said %s", "13912345678", "hi")
    assert caplog.messages == ["caller 139****5678 said hi"]


def test_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_pii_masking()
    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError("bad phone 13700005555")
        except ValueError:
            logging.getLogger("x").exception("failed")
    record = caplog.records[-1]
    assert record.exc_text is not None
    assert "13700005555" not in record.exc_text
    assert "137****5555" in record.exc_text
