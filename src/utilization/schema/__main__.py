"""`python -m utilization.schema` prints the tables the docs are generated from."""

from utilization.schema import (
    bounds_table,
    codes_table,
    contract_table,
    frames_table,
    readme_table,
    table_details,
)

print("## data contract §1 (docs/data-contract.md)\n")
print(contract_table())
print("## reject codes, data contract §2 (docs/data-contract.md)\n")
print(codes_table())
print("## bounds, data contract §2 (docs/data-contract.md)\n")
print(bounds_table())
print("## README.md\n")
print(readme_table())
print("## canonical frames (docs/design.md)\n")
print(frames_table())
print("## every input column, with its kind\n")
print(table_details())
