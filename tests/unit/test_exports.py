"""The public surface of the package is exactly what is documented."""
import mlcommons_emu


def test_public_names():
    assert sorted(mlcommons_emu.__all__) == ["Config", "Emulator", "NEWEST", "Release", "SEED"]
    assert mlcommons_emu.NEWEST == "3.8.0" and mlcommons_emu.SEED == "2.9.0"


def test_importing_the_package_does_not_load_heavy_modules():
    import subprocess
    import sys

    code = ("import sys, mlcommons_emu; "
            "print(','.join(m for m in ('botocore', 'aws_encryption_sdk', 'boto3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
