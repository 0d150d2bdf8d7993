"""Book-like test PDFs (English and Chinese) with front and back matter around body chapters:
a licence page, a table of contents, a foreword, body chapters (one named "Introduction", one
"License compliance risks" / "许可证合规风险" that uses licence words in the body), the
acknowledgements, a reference list and an index. Written with pymupdf like the other fixtures;
each section is sized to be exactly one chunk with the default chunk settings."""

from __future__ import annotations

from pathlib import Path

from sftforge.demo_corpus import render_markdown_pdf

# kind of each top-level section, in order: what the selection stage must find.
EN_KINDS = ["licence", "toc", "front_matter", "body", "body", "body", "body", "body",
            "acknowledgements", "references", "index"]

EN_BOOK = """# Practical Web Security

## Copyright

Copyright © 2024 Example Press. All rights reserved. This book is licensed under the Creative
Commons Attribution-ShareAlike 4.0 licence. No part of this publication may be reproduced
without permission, except as the licence allows. ISBN 978-0-00-000000-0. Printed in Nowhere.

## Contents

- Foreword ........ 3
- Introduction ........ 4
- Injection ........ 5
- Cross-Site Scripting ........ 6
- Session Management ........ 7
- License compliance risks ........ 8
- Acknowledgements ........ 9
- References ........ 10
- Index ........ 11

## Foreword

I have known the authors for many years, and it is a pleasure to introduce their work to
readers. They have spent a long time with the teams that build and defend web shops, and the
book carries the patience they showed there. I hope you enjoy it as much as I did when I read
the first draft on a long train ride, and that it finds a place on your desk.

## Introduction

Web applications accept input from anyone on the internet, so every field, header and cookie
is a place where an attacker can try to change what the program does. This book explains the
most common attack classes, shows why they work, and gives defences that developers can apply
in code review. Each chapter starts from a vulnerable example, explains how the attack
proceeds step by step, and ends with the controls that stop it and the tests that prove it.

## Injection

Injection happens when untrusted input is concatenated into a query or a command, so the
interpreter parses part of the input as code. Parameterized queries keep data out of the
grammar: the statement is compiled first and values are bound afterwards, so a quote in a
name can never end the string. Stored procedures help only when they do not build dynamic
SQL inside. Input validation with an allow-list adds depth but does not replace binding.

## Cross-Site Scripting

Cross-site scripting places attacker data into a page where the browser runs it as script.
Output encoding for the context (HTML text, attribute, JavaScript, URL) is the main defence,
and template engines that escape by default make the safe path the easy one. A content
security policy with nonces limits the damage of a missed encoding, and the violation
reports it sends show the team where injection points remain in the application.

## Session Management

Session identifiers must be long, random and regenerated after login, so an identifier fixed
by an attacker before login becomes useless. Cookies that carry them should be marked Secure,
HttpOnly and SameSite. Idle and absolute timeouts limit how long a stolen identifier stays
useful, and logout must destroy the session on the server, not only in the browser.

## License compliance risks

Third-party components bring licence obligations as well as code. A library licensed under
the GPL can oblige a vendor to publish the source of the product that links it, and a package
whose licence changed between versions can turn a routine upgrade into a legal problem.
Security teams should track licences in the same software bill of materials that tracks known
vulnerabilities, and block builds that pull in a component with an unknown licence.

## Acknowledgements

We would like to thank the reviewers who read every chapter and sent many corrections, and
the security teams who shared their incident notes with us. Special thanks go to our editors
for their patience, and to our families for the evenings and weekends this book took away.

## References

- [1] Halfond, W. G., Viegas, J., and Orso, A. (2006). A classification of SQL injection attacks and countermeasures. In Proceedings of the IEEE ISSSE.
- [2] Barth, A., Jackson, C., and Mitchell, J. C. (2008). Robust defenses for cross-site request forgery. In Proc. ACM CCS, pp. 75-88.
- [3] Stock, B., et al. (2017). How the web tangled itself. In Proc. USENIX Security, pp. 971-987.
- [4] OWASP Foundation (2021). OWASP Top 10. https://owasp.org/Top10/

## Index

- access control, 7, 9
- content security policy, 6
- cookies, 7
- cross-site scripting, 6, 9
- injection, 5, 8
- parameterized queries, 5
- session fixation, 7
- software bill of materials, 8
"""

ZH_KINDS = ["licence", "toc", "front_matter", "body", "body", "body", "body", "body",
            "acknowledgements", "references", "index"]

ZH_BOOK = """# 网络安全实践

## 版权声明

本书版权所有，保留所有权利。本书采用知识共享署名-相同方式共享 4.0 许可协议发布。
未经出版社书面许可，不得以任何方式复制或转载本书的任何部分。书号：978-7-000-00000-0。
示例出版社出版发行，二〇二四年第一版第一次印刷。

## 目录

- 前言 ........ 3
- 引言 ........ 4
- 注入攻击 ........ 5
- 跨站脚本 ........ 6
- 会话管理 ........ 7
- 许可证合规风险 ........ 8
- 致谢 ........ 9
- 参考文献 ........ 10
- 索引 ........ 11

## 前言

我认识本书的作者已经很多年了，很高兴能向读者介绍他们的这部作品。他们长期和开发与维护网店的团队一起工作，
书中处处可以看到他们当时表现出的耐心。希望读者像我在长途火车上读初稿时一样喜欢这本书，
也希望它能在你的书桌上占有一席之地。祝各位读者阅读愉快，工作顺利。

## 引言

网络应用程序接受来自互联网上任何人的输入，因此每一个字段、请求头和Cookie都是攻击者尝试改变程序行为的入口。
本书讲解最常见的攻击类型，说明它们为什么能够成功，并给出开发人员在代码审查中可以采用的防御方法。
每一章都从一个有漏洞的例子开始，一步一步说明攻击的过程，最后给出能够阻止攻击的控制措施以及验证这些措施的测试方法。

## 注入攻击

当不可信的输入被拼接进查询语句或命令时，就会发生注入，解释器会把输入的一部分当作代码来解析。
参数化查询能把数据和语法分开：语句先被编译，之后再绑定参数值，所以名字里的引号永远不会结束字符串。
只有在存储过程内部不再拼接动态SQL时，存储过程才有帮助。基于白名单的输入验证可以增加一层防御，但不能代替参数绑定。

## 跨站脚本

跨站脚本是指攻击者的数据被放进页面，浏览器把它当作脚本执行。按上下文进行输出编码是主要的防御方法，
包括HTML文本、属性、JavaScript和URL等不同位置。默认开启自动转义的模板引擎让安全的写法成为最容易的写法。
带有随机数的内容安全策略可以限制漏掉编码时造成的损害，它发送的违规报告还能告诉团队哪里仍然存在注入点。

## 会话管理

会话标识必须足够长、足够随机，并且在登录后重新生成，这样攻击者在登录前固定下来的标识就会失效。
保存会话标识的Cookie应当设置Secure、HttpOnly和SameSite属性。空闲超时和绝对超时限制了被盗标识的有效时间，
用户退出时服务器端必须真正销毁会话，而不只是删除浏览器中的Cookie。

## 许可证合规风险

第三方组件在带来代码的同时也带来了许可证义务。采用GPL许可证的库可能要求厂商公开链接它的产品的源代码，
而在不同版本之间更换了许可证的软件包，可能让一次普通的升级变成法律问题。
安全团队应当在跟踪已知漏洞的软件物料清单中同时跟踪许可证，并阻止引入许可证不明的组件的构建。

## 致谢

感谢逐章审读本书并提出大量修改意见的审稿人，也感谢与我们分享事件记录的各个安全团队。
特别感谢编辑们的耐心，以及家人们为这本书付出的无数个夜晚和周末。没有大家的帮助，这本书不可能完成。

## 参考文献

- [1] 张三, 李四. Web应用安全原理[M]. 北京: 示例出版社, 2019.
- [2] 王五. SQL注入攻击的分类与防御[J]. 计算机安全, 2018, 12(3): 45-52.
- [3] 赵六. 跨站脚本检测方法研究[D]. 上海: 示例大学, 2020.
- [4] OWASP Foundation. OWASP Top 10[EB/OL]. https://owasp.org/Top10/, 2021.

## 索引

- 访问控制, 7, 9
- 内容安全策略, 6
- Cookie, 7
- 跨站脚本, 6, 9
- 注入, 5, 8
- 参数化查询, 5
- 会话固定, 7
- 软件物料清单, 8
"""


def english_book_pdf(path: Path) -> Path:
    """The English book as a PDF with a running header and page numbers."""
    return render_markdown_pdf(EN_BOOK, path, header="Practical Web Security", paper="a6")


def chinese_book_pdf(path: Path) -> Path:
    """The Chinese book (pymupdf's built-in CJK font) with a running header and page numbers."""
    return render_markdown_pdf(ZH_BOOK, path, header="网络安全实践", paper="a6")
