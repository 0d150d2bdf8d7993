"""Realistic answers for the grounding score, on the demo corpus (sftforge/demo/*.md).

Each case: (demo file, section heading, question, answer). ``SUPPORTED`` answers say what the
section says, in the words a model would use (paraphrase, reordering, a code name). ``INVENTED``
answers are plausible for the field and the question but state what the section does not say
(the hallucinations a lenient judge lets through): other mechanisms, made-up numbers, advice
from general knowledge.
"""

from __future__ import annotations

import re
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "sftforge" / "demo"


def section(file: str, heading: str) -> str:
    """Text of the ``### heading`` section of a demo file (up to the next heading)."""
    text = (DEMO / file).read_text(encoding="utf-8")
    m = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, f"{file}: no section {heading!r}"
    return m.group(1).strip()


SQL, XSS, CSRF = "en_sql_injection.md", "en_xss_defense.md", "zh_csrf_session.md"

SUPPORTED_EN = [
    (SQL, "How an Injection Works", "How does SQL injection happen?",
     "SQL injection happens when an application pastes user input into the text of a database "
     "query, so the parser reads part of that input as SQL syntax rather than as a value."),
    (SQL, "How an Injection Works", "Why do network firewalls rarely stop SQL injection?",
     "Because the attack travels inside ordinary form fields and URL parameters, which look like "
     "normal traffic to a network firewall."),
    (SQL, "Vulnerable and Safe Code", "What makes a query safe from injection?",
     "The safe pattern sends the query text and the values separately. The driver binds each "
     "value as a parameter, so a value can never change the structure of the statement."),
    (SQL, "Vulnerable and Safe Code", "How should a user-chosen sort column be handled?",
     "Parameters cannot be used for column names, so map the user's choice to a fixed list of "
     "allowed column names in code and reject anything else."),
    (SQL, "Second-Order Injection", "What is second-order SQL injection?",
     "A malicious value is first stored safely, for example with a parameterized INSERT, and "
     "later copied into a query built with string formatting. Data from the application's own "
     "database is still untrusted if a user once chose it."),
    (SQL, "Least Privilege and Monitoring", "How can probing for injection be detected?",
     "Database audit logs and alerts on unusual error rates help, since injection attempts "
     "usually produce bursts of syntax errors before a working payload is found."),
    (XSS, "What Cross-Site Scripting Is", "Why is XSS so dangerous?",
     "The browser cannot tell the developer's script from the attacker's, so it runs both with "
     "the full authority of the site. The attacker can read what the victim sees and act as "
     "the victim."),
    (XSS, "Three Kinds of XSS", "Which kind of XSS is the hardest to see in server logs?",
     "DOM-based XSS, because the payload lives only in the browser and may never reach the "
     "server at all."),
    (XSS, "Output Encoding", "Why is encoding on input not enough?",
     "Encoding on output is the primary defense: the same value may later be placed into a "
     "different context, so encoding it once on input does not protect every place it is used."),
    (XSS, "Content Security Policy", "How does a strict CSP stop injected scripts?",
     "A strict policy allows scripts only when they carry a random nonce that the server "
     "generates for each response, so an injected script tag cannot guess the value. CSP does "
     "not replace encoding."),
    (XSS, "Testing Checklist", "What should testers do after fixing an XSS bug?",
     "Every fixed bug should get a regression test that renders the dangerous value and asserts "
     "that it comes back encoded."),
    (XSS, "Testing Checklist", "Which XSS bugs do scanners miss?",
     "Automated scanners find many reflected bugs, but stored and DOM-based issues need a "
     "manual review of the places where data is written into the page."),
]

INVENTED_EN = [
    (SQL, "How an Injection Works", "How does SQL injection happen?",
     "SQL injection is mainly prevented by a web application firewall that blocks quotes. "
     "Attackers typically use UNION SELECT statements to dump password hashes from MySQL."),
    (SQL, "How an Injection Works", "Why do network firewalls rarely stop SQL injection?",
     "Modern firewalls decrypt TLS traffic too slowly, and most vendors disable deep packet "
     "inspection by default to keep latency under 5 milliseconds."),
    (SQL, "Vulnerable and Safe Code", "What makes a query safe from injection?",
     "Escaping single quotes with a backslash and limiting input to 64 characters makes the "
     "query safe. Stored procedures are always immune to injection."),
    (SQL, "Vulnerable and Safe Code", "How should a user-chosen sort column be handled?",
     "Pass the column name as a bound parameter and enable strict mode in PostgreSQL, which "
     "validates identifiers automatically."),
    (SQL, "Second-Order Injection", "What is second-order SQL injection?",
     "Second-order injection targets the ORM cache: an attacker poisons Redis entries so that "
     "Hibernate replays them as native queries during nightly batch jobs."),
    (SQL, "Least Privilege and Monitoring", "How can probing for injection be detected?",
     "Deploy a honeypot table named admin_passwords and page the on-call engineer whenever it "
     "is queried; intrusion detection signatures from Snort cover the rest."),
    (XSS, "What Cross-Site Scripting Is", "Why is XSS so dangerous?",
     "XSS lets attackers install ransomware on the victim's operating system and was ranked "
     "first in the 2021 OWASP Top Ten."),
    (XSS, "Three Kinds of XSS", "Which kind of XSS is the hardest to see in server logs?",
     "Mutation XSS, discovered by Google researchers in 2013, abuses the innerHTML parser "
     "differences between Chrome and Firefox."),
    (XSS, "Output Encoding", "Why is encoding on input not enough?",
     "Input encoding breaks Unicode normalization in UTF-16 databases, and React's "
     "dangerouslySetInnerHTML double-decodes entities anyway."),
    (XSS, "Content Security Policy", "How does a strict CSP stop injected scripts?",
     "CSP blocks every inline event handler and requires Subresource Integrity hashes for all "
     "third-party libraries loaded from a CDN."),
    (XSS, "Testing Checklist", "What should testers do after fixing an XSS bug?",
     "Run Burp Suite's active scanner for 24 hours and file a CVE with MITRE before the patch "
     "is released."),
    (XSS, "Testing Checklist", "Which XSS bugs do scanners miss?",
     "Scanners miss bugs in WebSocket messages and in PDF files generated by headless Chrome, "
     "which require fuzzing with AFL."),
]

SUPPORTED_ZH = [
    (CSRF, "攻击原理", "CSRF 利用了浏览器的什么特性？",
     "CSRF 利用浏览器会自动携带 Cookie 的特性：用户访问攻击者控制的页面时，该页面向银行网站发起请求，"
     "浏览器会把会话 Cookie 一并带上。"),
    (CSRF, "攻击原理", "CSRF 和跨站脚本有什么区别？",
     "与跨站脚本不同，CSRF 攻击者无法读取响应内容，只能让受害者替他完成有副作用的操作，比如修改邮箱或转账。"),
    (CSRF, "攻击原理", "CSRF 最危险的目标是什么？",
     "因为攻击者看不到结果，所以一步就能造成损失的接口是最危险的目标。"),
    (CSRF, "攻击流程", "一次典型的 CSRF 攻击分几步？",
     "分三步：攻击者先研究目标接口，确认它只依赖 Cookie 识别用户且参数可以预测；然后在自己的网站、"
     "论坛帖子或邮件中嵌入自动提交的表单；最后已登录的受害者打开页面，表单在后台提交。"),
    (CSRF, "防御措施", "防御 CSRF 的关键是什么？",
     "关键是让服务器能够区分用户本人在本站发起的请求和第三方页面诱导发起的请求，实际系统通常组合使用多种方法。"),
    (CSRF, "防御措施", "SameSite Cookie 有什么注意事项？",
     "SameSite Cookie 让浏览器在跨站请求中不发送 Cookie，但 Lax 模式仍允许顶层 GET 导航。"),
    (CSRF, "防御措施", "同步令牌方法要注意什么？",
     "表单中携带服务器生成的随机令牌，令牌必须与会话绑定并校验。"),
    (CSRF, "代码示例", "示例代码如何设置会话 Cookie？",
     "示例把会话 Cookie 设置为 SameSite=Lax、HttpOnly 和 Secure，并在每个修改状态的请求中校验会话里保存的随机令牌。"),
    (CSRF, "会话安全要点", "如何防止会话固定攻击？",
     "会话标识必须足够随机，并且在登录成功后重新生成，这样可以防止会话固定攻击。"),
    (CSRF, "会话安全要点", "用户退出时服务器应该做什么？",
     "服务器端要真正销毁会话，而不只是删除浏览器中的 Cookie。"),
    (CSRF, "会话安全要点", "修改密码这类操作应如何处理？",
     "对于修改密码、绑定手机等高风险操作，应要求用户再次验证身份。"),
]

INVENTED_ZH = [
    (CSRF, "攻击原理", "CSRF 利用了浏览器的什么特性？",
     "CSRF 利用的是浏览器的同源策略漏洞，攻击者通过 JSONP 接口直接读取用户的账户余额。"),
    (CSRF, "攻击原理", "CSRF 和跨站脚本有什么区别？",
     "CSRF 是跨站脚本的一个子类，2007 年之后主流浏览器已经默认修复，因此现在很少出现。"),
    (CSRF, "攻击原理", "CSRF 最危险的目标是什么？",
     "最危险的目标是内网路由器的管理页面，攻击者可以借此修改 DNS 设置并劫持全部流量。"),
    (CSRF, "攻击流程", "一次典型的 CSRF 攻击分几步？",
     "通常分五步：端口扫描、指纹识别、漏洞利用、权限提升和横向移动，整个过程大约需要两小时。"),
    (CSRF, "防御措施", "防御 CSRF 的关键是什么？",
     "关键是部署 Web 应用防火墙并开启验证码，同时对所有接口启用 HTTPS 双向认证。"),
    (CSRF, "防御措施", "SameSite Cookie 有什么注意事项？",
     "SameSite=Strict 会导致单点登录失效，而且 Safari 12 以前的版本会把 None 错误地当成 Strict。"),
    (CSRF, "防御措施", "同步令牌方法要注意什么？",
     "令牌应当使用 MD5 生成并保存在 localStorage 中，有效期建议设置为 24 小时。"),
    (CSRF, "代码示例", "示例代码如何设置会话 Cookie？",
     "示例使用 Django 中间件自动生成令牌，并通过 Redis 集群在多台服务器之间共享会话。"),
    (CSRF, "会话安全要点", "如何防止会话固定攻击？",
     "应当把会话标识写进 URL 参数，并配合 IP 地址绑定，每隔五分钟强制刷新一次页面。"),
    (CSRF, "会话安全要点", "用户退出时服务器应该做什么？",
     "退出时前端调用 JavaScript 清空 localStorage 即可，服务器无需任何处理。"),
    (CSRF, "会话安全要点", "修改密码这类操作应如何处理？",
     "修改密码前应先发送短信验证码，并由人工客服在工作日内审核后生效。"),
]

# Supported, but reworded the way a model explains rather than copies.
PARAPHRASED_EN = [
    (SQL, "How an Injection Works", "What can an attacker do with SQL injection?",
     "What the attacker gains is bounded by the database account's privileges: reading tables "
     "the page never displays, altering or deleting rows, and on some systems running OS "
     "commands via database features."),
    (XSS, "Three Kinds of XSS", "Why is stored XSS usually the most damaging?",
     "The payload sits in the server's database, so anyone who opens the affected page gets "
     "attacked, with no need to click a crafted link."),
    (XSS, "Output Encoding", "What two habits prevent most template bugs?",
     "Don't assemble HTML through string concatenation in application code, and treat any "
     "escape hatch that marks a value as safe as a review finding needing written "
     "justification."),
    (SQL, "Least Privilege and Monitoring", "Which rights should a service's database account have?",
     "Only access to the service's own tables, and read-only rights wherever it does not need "
     "to write."),
]
PARAPHRASED_ZH = [
    (CSRF, "攻击原理", "为什么服务器会执行 CSRF 伪造的请求？",
     "浏览器替用户带上了会话 Cookie，服务器看到的像是合法用户发来的请求，于是照常执行了转账等操作。"),
    (CSRF, "防御措施", "校验 Origin 头要注意什么？",
     "校验 Origin 头可以拒绝来源不是本站的请求，但要考虑那些请求中缺少该头的旧客户端。"),
    (CSRF, "会话安全要点", "会话超时应该如何设置？",
     "应当给会话同时设置合理的空闲超时和绝对超时。"),
    (CSRF, "防御措施", "二次确认适合用在什么地方？",
     "二次确认要求用户重新输入密码，会影响体验，所以只在高风险的敏感操作上使用。"),
]
# Half right: one supported sentence, then an invented one (the hardest case for a judge).
MIXED_EN = [
    (SQL, "Vulnerable and Safe Code", "What makes a query safe from injection?",
     "The driver binds each value as a parameter, so a value cannot change the statement. "
     "In addition, all input longer than 64 characters must be rejected by a regular "
     "expression filter on the web server."),
    (XSS, "Content Security Policy", "What is a CSP nonce?",
     "A random value the server generates for each response; scripts run only if they carry "
     "it. Nonces must be at least 256 bits long and rotated every hour by the CDN."),
]
MIXED_ZH = [
    (CSRF, "会话安全要点", "如何防止会话固定攻击？",
     "会话标识必须足够随机，并在登录成功后重新生成。此外还应当把会话标识与用户的 IP 地址和浏览器指纹绑定，"
     "发现变化立即报警。"),
    (CSRF, "防御措施", "SameSite Cookie 有什么注意事项？",
     "Lax 模式仍允许顶层 GET 导航。另外，Chrome 从 80 版本开始默认把没有声明的 Cookie 当作 Lax，"
     "旧版安卓系统的 WebView 则完全不支持该属性。"),
]
