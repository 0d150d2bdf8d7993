"""The vocabulary of ``sftforge.cleaning.injection``: one regex source per kind, both languages.

An injection addresses an AI system or its instructions; an IT manual addresses a person and
their systems. So override verbs ("ignore", "drop", "忽略", "作废") count only with a target that
belongs to a model's conversation: instructions, prompts, rubrics, guidelines, or a generic noun
(rules, policies, criteria, 规则, 要求) qualified as earlier/your/system ("previous rules",
"之前的规则"); "Drop all existing rules" and "删除所有现有规则" name firewall rules. Every
quantifier is bounded or anchored on a literal, so screening is linear in the text.

``DIRECTIVE`` kinds count when they are orders (see ``injection._is_directive``); ``ANYWHERE``
kinds count wherever they stand (a quoted example in security prose excepted).
"""

from __future__ import annotations

# "ignore [all] [the] previous instructions": qualifiers between the verb and its target.
_QUAL = (r"(?:previous|prior|above|earlier|preceding|foregoing|former|original|initial|your|"
         r"system|evaluation|scoring|grading|screening|safety|hiring|content|conversation|"
         r"(?:the\s+)?above)")
_DET = r"(?:(?:all|any|the|every|of|my|and|these|those|other)\s+){0,4}"
# Nouns that are a model's own: they need no qualifier ("ignore all instructions" needs one).
_AI_NOUN = r"(?:rubrics?|system\s+prompts?|prompts?|programming|training|guardrails?)"
_NOUN = (r"(?:instructions?|rules?|guidelines?|criteria|directions?|directives?|constraints?|"
         r"policies|policy|requirements?|context|commands?|restrictions?|conversation|"
         r"messages?|settings?)")
EN_TARGET = (rf"(?:{_DET}(?:{_QUAL}\s+){{1,3}}(?:{_AI_NOUN}|{_NOUN})"
             rf"|{_DET}{_AI_NOUN}|everything\s+(?:you\s+)?(?:were|have\s+been|was)\s+"
             rf"(?:told|given|instructed)|what\s+(?:you\s+were\s+told|the\s+system\s+prompt\s+says)"
             rf"|(?:the\s+)?instructions\s+you\s+(?:were|have\s+been)\s+given)\b")
_EN_VERB = (r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard|neglect|"
            r"stop\s+following|stop\s+obeying|do\s+not\s+(?:follow|obey|apply|use)|"
            r"don'?t\s+(?:follow|obey)|no\s+longer\s+follow)")

_ZH_QUAL = r"(?:你的|您的|之前|以上|上面|上述|前面|先前|此前|原来|原有|原先|初始|系统|此前)"
_ZH_NOUN = (r"(?:指令|指示|提示词?|系统提示|设定|规则|对话|约束|限制|规定|要求|说明|评分标准|"
            r"评估标准|评价标准|标准|安全策略|策略)")
_ZH_SELF = r"(?:指令|指示|提示词|系统提示|评分标准|评估标准|设定)"  # a model's own: no qualifier
# Only a model has these, so a verb on them needs no qualifier ("请忽略评分标准"); 指令 alone
# may be a CPU's ("处理器忽略指令前缀"), so it is not among them.
_ZH_BARE = r"(?:提示词|系统提示|评分标准|评估标准|评价标准)"
_ZH_OBJ = (rf"(?:{_ZH_QUAL}(?:的)?(?:所有|全部|一切|任何|其他)?(?:的)?{_ZH_NOUN}"
           rf"|(?:你|您)?(?:之前|此前|先前|以前|刚才)(?:收到|得到|接收到?|获得|被告知)的(?:所有|全部|一切)?"
           rf"(?:的)?{_ZH_NOUN}"
           rf"|(?:所有|全部|一切|任何)(?:的)?{_ZH_SELF})")
_ZH_VERB = r"(?:忽略|忽视|无视|不要理会|不用理会|跳过|抛开|忘记|忘掉|丢掉|丢弃|不要遵守|不再遵守|别再遵守|停止遵循|停止遵守|不要遵循|不要服从|不再服从)"

DIRECTIVE: dict[str, str] = {
    "override": (
        rf"\b{_EN_VERB}\s+{EN_TARGET}"
        rf"|\bnew\s+instructions?\s*:"
        rf"|\bpretend\s+(?:that\s+)?(?:the\s+)?(?:{_QUAL}\s+)?(?:instructions|rules|prompts?)\s+"
        rf"(?:never\s+existed|do\s+not\s+exist|don'?t\s+exist)"
        rf"|\byour\s+(?:new|only|real|next|true)\s+(?:task|job|goal|mission|instructions?|purpose)"
        rf"\s+(?:is|are|will\s+be)\s+to\b(?=[^.!?\n]{{0,160}}\b(?:this\s+(?:document|page|text|"
        rf"paper|file|author)|AI|assistant|model|prompt|training\s+data|output|reply|respond))"
        rf"|{_ZH_VERB}(?:掉)?(?:{_ZH_OBJ}|{_ZH_BARE})"
        rf"|(?:把|将)?{_ZH_OBJ}(?:都|全部|全都|统统|一律)?(?:给)?(?:忽略|无视|忘掉|忘记|抛开|丢掉|作废|废除|取消)"
        rf"|{_ZH_OBJ}(?:全部|都|一律|已经|已)?(?:无效|作废|失效|被取消|取消了|不再适用|不再有效)"
        rf"|你的新(?:任务|工作|目标|指令)(?:是|为)(?=[^。！？\n]{{0,60}}(?:这份文档|本文|此文|这段|作者|"
        rf"AI|模型|助手|提示|训练数据|输出|回复))"),
    "score": (
        r"\b(?:assign|give|award|grant|rate|score|mark|grade|rank)\s+"
        r"(?:(?:this|it|the|me|my|him|her|them|these|that|candidate|answer|response|resume|"
        r"résumé|cv|applicant|sample|submission|paper|essay|output)\s+){0,4}"
        r"(?:(?:the\s+|a\s+)?(?:highest|maximum|max|top|best|perfect|full|excellent)\s+"
        r"(?:possible\s+)?(?:score|marks?|rating|grade|points)|10\s*/\s*10|"
        r"(?:a\s+)?(?:score|rating|grade|mark)\s+of\s+10\b)"
        r"|\b(?:assign|give|award|rate|score|grade)\s+(?:this|it|me|him|her|them|(?:the|this|my)"
        r"\s+(?:answer|response|candidate|resume|résumé|cv|applicant|sample|submission))\s+"
        r"(?:a\s+)?10\b(?!\s*(?:minutes?|seconds?|hours?|days?|times?|more|%|ms\b|s\b))"
        r"|(?:给出?|打|评为?|判为?|给予)(?:这个|该|此|我|本)?(?:回答|答案|候选人|简历|样本|申请人)?"
        r"(?:打)?(?:满分|最高分|最高评分|最高等级|10分|十分|一百分|100分)"),
    "roleplay": (
        r"\byou\s+are\s+now\s+(?:DAN|an?\s+(?:unrestricted|unfiltered|uncensored|jailbroken|"
        r"evil|different)|free|in\s+developer\s+mode|no\s+longer)"
        r"|\byou\s+are\s+no\s+longer\s+(?:bound|restricted|limited|an?\s+(?:AI|assistant|model))"
        r"|\bfrom\s+now\s+on,?\s+you\s+(?:are|will\s+(?:act|be|respond|answer|ignore)|"
        r"have\s+no)\b"
        r"|\b(?:developer|god|jailbreak|DAN)\s+mode\s+(?:enabled|activated|on)\b"
        r"|\bdo\s+anything\s+now\b"
        r"|\bpretend\s+(?:that\s+)?you\s+(?:are|have)\s+(?:an?\s+)?(?:no\s+(?:rules|"
        r"restrictions|limits|filters)|unrestricted|unfiltered|evil|DAN)"
        r"|\b(?:act|behave)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken)"
        r"|从现在(?:开始|起)[，,]?你(?:是|就是|将成为)(?:一个)?(?:没有|不受|无|DAN|AI|邪恶)"
        r"|你现在是(?:一个)?(?:不受|没有|无)"
        r"|你(?:现在)?(?:已经)?(?:没有|不受)任何(?:限制|约束|规则)"
        r"|你不再受(?:任何)?(?:规则|限制|约束|指令)"
        r"|(?:进入|开启|启用|切换到)(?:越狱|上帝|DAN)模式"
        # "进入开发者模式" is also how a phone manual says "enable developer options".
        r"|(?:进入|开启|启用|切换到)开发者模式[，,]?(?=[^。\n]{0,20}(?:回答|问题|限制|约束|规则|指令))"
        r"|假装你(?:是|没有)"),
}

ANYWHERE: dict[str, str] = {
    "requirements": (
        r"\b(?:matches|match|meets|meet|satisfies|satisfy|fulfils?|fulfills?)\s+(?:all|every|"
        r"each)\s+(?:of\s+the\s+)?(?:requirements?|criteria|qualifications?)\s+(?:in|of|"
        r"from|listed\s+in)\s+(?:the\s+|this\s+)?job\s+(?:description|posting|ad)"
        r"|(?:完全)?(?:符合|满足|匹配)(?:职位|岗位|招聘|工作)?(?:描述中?的)?(?:所有|全部|一切)(?:的)?"
        r"(?:职位|岗位|招聘|任职)?(?:要求|条件|标准)"),
    "addressee": (
        r"\b(?:note|message|instructions?|p\.?s\.?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
        r"(?:AI|LLM|language\s+model|model|assistant|chatbot|reviewer|grader|judge|screener|"
        r"evaluator|recruiter|ATS)(?:\s+(?:reviewers?|screeners?|models?|assistants?|systems?|"
        r"graders?|judges?|evaluators?|recruiters?))?\b\s*[:：,]"
        r"|\b(?:dear|hey|hello|attention|attn)\s*,?\s+(?:the\s+|all\s+|any\s+)?(?:AI|LLM|"
        r"chatbot|assistant|language\s+model|GPT|ChatGPT|bot)s?\b"
        r"|\b(?:AI|LLM|chatbot|assistant|language\s+model)s?\s+(?:reading|processing|"
        r"summari[sz]ing|parsing|ingesting)\s+(?:this|these|the\s+following)\b"
        r"|\byou,\s+the\s+(?:AI|assistant|model|LLM|chatbot|language\s+model)\b"
        r"|\bas\s+an?\s+(?:AI|LLM|language\s+model|AI\s+assistant|assistant)\s*,\s*(?:you|your)\b"
        r"|\bif\s+you\s+are\s+(?:an?\s+)?(?:AI|LLM|large\s+language\s+model|language\s+model|"
        r"automated|GPT|chatbot|AI\s+(?:reviewer|screener|assistant|model))\b"
        r"|\bas\s+the\s+(?:judge|reviewer|grader|evaluator)\s*,"
        r"|\bsystem\s+(?:override|message|notice|instruction)\s*[:：]"
        r"|\b(?:reveal|print|output|repeat|show|leak|disclose|dump)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:(?:hidden|secret|original|initial|full)\s+)?(?:system\s+prompt|prompt\s+you|prompt\b|"
        r"hidden\s+instructions|initial\s+instructions|instructions\s+you)"
        r"|<<SYS>>|^#{2,3}\s*(?:system|instruction)\s*:?\s*$"
        r"|(?:如果|假如|若)你是(?:一个)?(?:AI|人工智能|大模型|语言模型|机器人|自动|评审|评分)"
        r"|(?:致|给|写给)(?:阅读本文的|读到这里的|处理本文的)?(?:AI|人工智能|大模型|模型|评审|评委|审稿人|"
        r"筛选系统|招聘系统|助手)+(?:的话)?[:：]"
        r"|(?:AI|人工智能|大模型|语言模型)(?:助手)?(?:请注意|注意)[:：，,]"
        r"|(?:AI|人工智能|大模型|语言模型|模型|助手)在(?:阅读|处理|总结|解析)(?:本文|此文|这份文档|本文档|这段文字)时"
        r"|作为(?:一个)?(?:AI|人工智能|大模型|语言模型|AI助手)[，,]你"
        r"|系统覆盖[:：]"
        r"|(?:输出|泄露|显示|告诉我|透露|复述)你的(?:系统提示|系统指令|初始指令|提示词)"
        r"|(?:把|将)(?:你的)?(?:系统提示词?|初始指令|提示词)(?:原样|完整|全部)?(?:地)?(?:输出|泄露|显示|发)"),
    "chat_template": (
        r"<\|(?:im_start|im_end|im_sep|eot_id|start_header_id|end_header_id|begin_of_text|"
        r"end_of_text|endoftext|eom_id|python_tag|system|user|assistant|fim_prefix|fim_suffix|"
        r"fim_middle|end)\|>|\[/?INST\]|<</?SYS>>|</?s>|<start_of_turn>|<end_of_turn>"),
    "hidden_markup": (
        r"<[a-z][^>]{0,200}style\s*=\s*[\"'][^\"']{0,200}(?:font-size\s*:\s*0(?:\.\d+)?\s*"
        r"(?:pt|px|em|rem)?\s*(?:;|[\"'])|display\s*:\s*none|visibility\s*:\s*hidden|"
        r"opacity\s*:\s*0(?:\.0+)?\s*(?:;|[\"'])|color\s*:\s*(?:white|#fff(?:fff)?)\b)"
        r"|[\U000E0000-\U000E007F]{4,}"),  # Unicode tag characters: invisible ASCII smuggling
}

# The cheap first pass: every pattern needs one of these (lowercase, on the detection view).
ANCHORS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "abandon", "skip", "drop", "discard",
    "neglect", "follow", "obey", "do not ", "new instruction", "pretend", "your new", "your only",
    "your real", "your next", "your true", "忽略", "忽视", "无视", "理会", "跳过", "抛开", "忘记",
    "忘掉", "丢", "遵守", "遵循", "服从", "作废", "废除", "取消", "无效", "失效", "不再", "新任务",
    "新工作", "新目标", "新指令", "highest", "maximum", "max ", "top ", "best ", "perfect",
    "full ", "excellent", "10", "满分", "最高", "十分", "一百分", "requirement", "criteria",
    "qualification", "要求", "条件", "标准", "you are", "from now on", " mode", "anything now",
    "act as", "behave as", "从现在", "你现在", "你不再", "没有任何", "不受任何", "模式", "假装你",
    "note", "message", "instruction", "p.s", "ps ", "dear", "hey", "hello", "attention", "attn",
    "ai", "llm", "chatbot", "assistant", "language model", "you, the", "as an", "as a ",
    "if you are", "as the ", "system", "reveal", "print", "output", "repeat", "show", "leak",
    "disclose", "dump", "<<sys", "#", "你是", "致", "写给", "给", "人工智能", "模型", "助手",
    "系统", "提示", "指令", "<|", "[inst]", "[/inst]", "<s>", "</s>", "_of_turn>", "style")
