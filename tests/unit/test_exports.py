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


def test_a_started_emulator_loads_the_fakes_and_the_orm_only_when_used():
    """Starting an emulator on SQLite loads neither SQLAlchemy's asyncio extension (and its
    ORM) nor the fake providers' modules; a look at ``providers`` (or a request to a fake) loads them."""
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from mlcommons_emu import Emulator\n"
        "watched = ('sqlalchemy.ext.asyncio', 'sqlalchemy.orm', 'aiosqlite', 'mlcommons_emu.providers.openai')\n"
        "async def main():\n"
        "    async with Emulator() as emu:\n"
        "        r = await emu.request('GET', '/')\n"
        "        assert r.status == 200\n"
        "        print(','.join(m for m in watched if m in sys.modules))\n"
        "        assert len(emu.providers['openai'].recorder) == 0\n"
        "        print(','.join(m for m in watched if m in sys.modules))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.splitlines()
    assert before == ""
    assert after == "mlcommons_emu.providers.openai"
