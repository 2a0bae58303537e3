"""X12 835 remittance files written by the tests: a check of March 2025 and one of April.

They pay the visits of the remittance tests' agency: clients C1 Lovelace, C2 Hopper and
C3 Turing, visits V1-V7 of March 2025 (test_remittance.py, test_remittance_pipeline.py).
"""

from __future__ import annotations

ISA = (
    "ISA*00*          *00*          *ZZ*WAHCA          *ZZ*DEMOAGENCY     "
    "*250401*1200*^*00501*{icn}*0*P*:"
)
LOVELACE = ("LOVELACE", "ADA", "WA111")
HOPPER = ("HOPPER", "GRACE", "WA222")
TURING = ("TURING", "ALAN", "WA333")
NOBODY = ("NOBODY", "NEMO", "WA999")
V1_LINE = ["SVC*HC:T1019*60*54**4", "DTM*472*20250303", "CAS*CO*45*6", "REF*6R*V1"]


def claim_segments(
    pcn: str, status: str, charge: str, paid: str, patient: tuple[str, str, str], *lines: list[str]
) -> list[str]:
    """The CLP and NM1*QC segments of a claim for `patient` (last, first, member id), then
    the segments of each service line (SVC, DTM, CAS, REF).
    """
    last, first, member = patient
    member_part = f"****MI*{member}" if member else ""
    head = [
        f"CLP*{pcn}*{status}*{charge}*{paid}**MC*P{pcn}",
        f"NM1*QC*1*{last}*{first}{member_part}",
    ]
    return head + [segment for line in lines for segment in line]


def remittance_text(
    check: str, paid_date: str, total: str, *claims: list[str], icn: str = "1"
) -> str:
    """An 835 interchange with one transaction set; segment numbers count from the ISA."""
    body = [
        "ST*835*0001",
        f"BPR*I*{total}*C*ACH*CCP*01*111000025*DA*123456*1234567890**01*222000025*DA*654321*{paid_date}",
        f"TRN*1*{check}*1234567890",
        "N1*PR*WASHINGTON HCA*XV*WAMCD",
        "N1*PE*DEMO HOME CARE*XX*1234567893",
        "LX*1",
        *[segment for claim in claims for segment in claim],
    ]
    body.append(f"SE*{len(body) + 1}*0001")
    segments = [
        ISA.format(icn=icn.zfill(9)),
        "GS*HP*WAHCA*DEMOAGENCY*20250401*1200*1*X*005010X221A1",
        *body,
        "GE*1*1",
        f"IEA*1*{icn.zfill(9)}",
    ]
    return "~\n".join(segments) + "~\n"


def march_835() -> str:
    """Check EFT1001 of 2025-04-01: 6 lines paying 54 + 54 + 90 + 0 + 25 + 50 = 273."""
    return remittance_text(
        "EFT1001",
        "20250401",
        "273",
        claim_segments(
            "A-1001",
            "1",
            "120",
            "108",
            LOVELACE,
            V1_LINE,
            ["SVC*HC:T1019*60*54**4", "DTM*472*20250304", "CAS*CO*45*6"],
        ),
        claim_segments(
            "A-1002",
            "1",
            "145",
            "90",
            HOPPER,
            ["SVC*HC:T1005:U4*100*90**8", "DTM*472*20250303", "CAS*CO*45*10"],
            ["SVC*HC:T1019*45*0**3", "DTM*472*20250306", "CAS*CO*45*45"],
        ),
        claim_segments(
            "A-1003",
            "1",
            "30",
            "25",
            TURING,
            ["SVC*HC:S5125*30*25**2", "DTM*472*20250305", "CAS*CO*45*5"],
        ),
        claim_segments(
            "A-1004",
            "1",
            "60",
            "50",
            NOBODY,
            ["SVC*HC:T1019*60*50**4", "DTM*472*20250303", "CAS*CO*45*10", "REF*6R*X-77"],
        ),
        icn="1001",
    )


def april_835() -> str:
    """Check EFT2002 of 2025-04-15: V1 reversed (-54) and paid again at 58; total 4."""
    return remittance_text(
        "EFT2002",
        "20250415",
        "4",
        claim_segments(
            "A-1001",
            "22",
            "-60",
            "-54",
            LOVELACE,
            ["SVC*HC:T1019*-60*-54**-4", "DTM*472*20250303", "CAS*CO*45*-6", "REF*6R*V1"],
        ),
        claim_segments(
            "A-1001",
            "1",
            "60",
            "58",
            LOVELACE,
            ["SVC*HC:T1019*60*58**4", "DTM*472*20250303", "CAS*CO*45*2", "REF*6R*V1"],
        ),
        icn="2002",
    )
