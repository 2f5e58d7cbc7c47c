"""The options page in a real browser: the calculator answers Hull's example and an
implied volatility, a CSV chain uploads, and its table, smile and surface are drawn."""

from datetime import UTC, date, datetime, timedelta

from playwright.sync_api import Page, expect

from app.domain import options

AS_OF = datetime(2026, 12, 4, 21, tzinfo=UTC)


def chain_csv() -> bytes:
    """Calls and puts at 4,900/5,000/5,100 for two expiries, quoted around Black-76 prices
    on a smile (F = 5,000, r = 4 %); the 5,100 March call trades beyond its open interest."""
    lines = ["type,strike,expiry,bid,ask,last,volume,open_interest"]
    for expiry in (date(2026, 12, 18), date(2027, 3, 19)):
        end = datetime.combine(expiry + timedelta(days=1), datetime.min.time(), UTC)
        years = (end - AS_OF) / timedelta(days=365)
        for strike, vol in ((4900, 0.22), (5000, 0.18), (5100, 0.16)):
            for kind in ("call", "put"):
                value = options.price("black76", kind, 5000, strike, years, 0.04, vol)
                volume = 900 if (expiry.month, strike, kind) == (3, 5100, "call") else 20
                lines.append(f"{kind},{strike},{expiry},{value - 0.25:.2f},{value + 0.25:.2f},"
                             f"{value:.2f},{volume},100")  # fmt: skip
    return "\n".join(lines).encode()


def test_the_calculator_answers_price_greeks_and_implied_volatility(
    logged_in_page: Page, console_errors
):
    page = logged_in_page
    page.goto("/options")
    calculator = page.get_by_test_id("option-calculator")
    calculator.get_by_label("Model").select_option("bsm")
    calculator.get_by_label("Underlying").fill("42")
    calculator.get_by_label("Strike").fill("40")
    calculator.get_by_label("Years to expiry").fill("0.5")
    calculator.get_by_label("Rate").fill("0.10")
    calculator.get_by_label("Volatility", exact=True).fill("0.20")
    calculator.get_by_role("button", name="Calculate").click()
    result = page.get_by_test_id("calculator-result")
    expect(result.locator('[data-field="price"]')).to_have_text("4.7594")
    expect(result.locator('[data-field="delta"]')).to_have_text("0.7791")
    expect(result.locator('[data-field="theta_per_day"]')).to_have_text("-0.0125")

    calculator.get_by_label("Solve for").select_option("implied-volatility")
    expect(calculator.get_by_label("Volatility", exact=True)).to_be_hidden()
    calculator.get_by_label("Option price").fill("4.759422")
    calculator.get_by_role("button", name="Calculate").click()
    expect(result.locator('[data-field="implied_volatility"]')).to_have_text("0.200000")

    calculator.get_by_label("Option price").fill("50")  # above the stock: no volatility
    calculator.get_by_role("button", name="Calculate").click()
    error = page.locator('[data-role="calculator-error"]')
    expect(error).to_contain_text("no-arbitrage")
    # The refusal's 422 is the browser's one logged failure.
    assert all("422" in e for e in console_errors), console_errors


def test_an_uploaded_chain_shows_its_table_smile_and_surface(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    page.goto("/options")
    upload = page.get_by_test_id("chain-upload")
    upload.get_by_label("File (CSV or JSON)").set_input_files(
        {"name": "esh7.csv", "mimeType": "text/csv", "buffer": chain_csv()}
    )
    upload.get_by_label("Underlying", exact=True).fill("ESH7")
    upload.get_by_label("As of (UTC)").fill("2026-12-04T21:00:00")
    upload.get_by_label("Rate").fill("0.04")
    upload.get_by_role("button", name="Upload").click()

    table = page.get_by_test_id("chain-table")
    expect(table.locator("tbody tr[data-contract-id]")).to_have_count(12)
    first = table.locator("tbody tr").first
    expect(first).to_contain_text("4900")
    expect(first.locator("td").nth(8)).to_have_text("22.00")  # IV % from the mid
    expect(table.locator('tr[data-unusual~="volume_above_open_interest"]')).to_have_count(1)

    summary = page.get_by_test_id("chain-summary")
    expect(summary.locator('[data-field="underlying_price"]')).to_contain_text("(parity)")
    expect(summary.locator('[data-field="put_call_volume_ratio"]')).to_have_text("0.12")

    smile = page.get_by_test_id("smile-chart")
    expect(smile).to_have_attribute("data-points", "6")  # 3 strikes × 2 expiries
    expect(smile.locator("canvas").first).to_be_visible()
    surface = page.get_by_test_id("surface-chart")
    expect(surface).to_have_attribute("data-cells", "6")
    painted = surface.locator("canvas").evaluate(
        """(canvas) => {
            const { width, height } = canvas;
            const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            const colours = new Set();
            for (let i = 0; i < data.length; i += 4 * 97) colours.add(data.slice(i, i + 3).join());
            return colours.size;
        }"""
    )
    assert painted > 5, painted  # the background, labels and several heat colours

    # The page remembers nothing itself: a chain is picked from the stored ones.
    page.goto("/options?chain_id=1")
    expect(page.get_by_test_id("chain-table").locator("tbody tr[data-contract-id]")).to_have_count(
        12
    )
    shoot(page, "options", screens=("1366", "phone"))
    assert console_errors == []
