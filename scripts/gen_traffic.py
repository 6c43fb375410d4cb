#!/usr/bin/env python3
"""Writes an OpenAI /v1/chat/completions batch file that looks like real chat traffic.

usage: gen_traffic.py OUT [--bytes N] [--seed S] [--ascii-share F]

About N bytes (default 100e6) of JSON Lines requests for o200k models. About 70% of the
conversations are in English and 30% in Chinese, Japanese, Korean, Russian, Arabic or Hindi
(with English mixed in, as real users do); messages carry emoji (skin tones, ZWJ families,
flags, VS16), source code (Python, Rust, JavaScript: indentation, aligned comments, blank
lines), JSON documents pasted into the text (escaped once more by the request's JSON), numbers,
prices, dates, URLs and e-mail addresses. A third of the requests share one of a few long
system prompts; message lengths are log-normal with a tail of long pasted documents.

Vocabulary is drawn from a Zipf-like distribution over the word lists below, plus invented
names and identifiers, so common words repeat and a long tail stays fresh (as in real text,
where a tokenizer's memo cannot hold every word). The word lists are written for this
generator. Standard library only; the output is a pure function of the arguments (same seed,
same bytes) for a given Python 3 version.
"""
import argparse
import json
import math
import random
import sys

EN = """the of and to a in is that for it with as on be this are you or by from at have not
can will an your we all if which was more has one their but there so what about also when would
should use used using data file files model models request requests response batch token tokens
number time first new like make may each other some these into only how than then them its
over such just need any most way through after before many while where because both between
please help write explain summarize translate check review fix improve compare list describe
show give find create update delete return returns value values result results error errors
user users customer customers order orders product products price prices report reports
table column row query database server client service api endpoint key keys field fields
name names type types string strings list lists function functions class method methods test
tests code line lines input output text message messages content document documents page
section paragraph sentence word words example examples question questions answer answers
system prompt context step steps first second third next last final following above below
important note however therefore although instead otherwise finally currently recently
simple simply quick quickly short long small large big high low fast slow good better best
bad worse clear clearly exact exactly correct correctly wrong different same similar
available possible necessary required optional default custom specific general total
average maximum minimum several various certain main major minor early late open close
closed start started end ended run running read reading write writing send sending receive
team project company market sales revenue cost costs budget plan plans meeting meetings
email emails schedule week month year today yesterday tomorrow morning evening hour hours
minute minutes day days people person manager engineer developer designer analyst student
teacher doctor patient account accounts payment payments invoice invoices shipping delivery
address city country region policy policies contract agreement issue issues ticket tickets
support feature features release version versions change changes log logs event events
config configuration setting settings option options parameter parameters argument
performance memory disk network cache queue thread threads process processes job jobs
thank thanks hello hi dear regards sorry great sure okay yes no maybe perhaps really very
quite rather almost always never often sometimes usually here now again still already
even well back down up out off too much little less least few every own sure true false
think know want see look seem feel try keep let put take get got made said say says told
tell ask asked work works worked working call called calls go goes going went come came
brief detailed formal friendly professional tone style format bullet points summary
analysis insight insights trend trends growth decline increase decrease percent rate rates
risk risks benefit benefits issue goal goals task tasks priority deadline status""".split()

EN_CONTRACTIONS = ["don't", "doesn't", "isn't", "aren't", "can't", "won't", "I'm", "I've",
                   "I'll", "I'd", "you're", "you'll", "we're", "we've", "they're", "it's",
                   "that's", "there's", "let's", "wasn't", "shouldn't", "wouldn't", "we'd"]

# Syllables for invented names, products and identifiers (the long tail of real text).
SYL = ("ka lo mi ra ven tor sel da qui bex nor la fen ti gra mo zu pel han dri os cor ax "
       "lum ber sto vi na kel ro tam is ul pra ge dor fi wen").split()

ZH = """我们 你们 他们 数据 文件 请求 模型 处理 分析 结果 问题 用户 客户 订单 产品 价格 报告
系统 服务 接口 参数 配置 错误 日志 时间 今天 明天 昨天 需要 可以 应该 已经 正在 如果 因为 所以
但是 然后 并且 或者 这个 那个 一个 一些 所有 每个 没有 不是 就是 还是 非常 比较 重要 简单 详细
请 帮 我 把 这 段 文字 翻译 成 英文 总结 一下 检查 代码 是否 正确 为什么 怎么 什么 哪里 多少
公司 团队 项目 会议 计划 预算 销售 市场 增长 下降 百分比 平均 最大 最小 版本 更新 删除 创建
内容 文档 页面 段落 句子 问题 答案 例子 步骤 首先 其次 最后 另外 例如 目前 最近 未来 方法
性能 内存 网络 缓存 队列 线程 进程 任务 状态 优先级 截止 日期 地址 城市 国家 合同 支付 发票""".split()
ZH_PUNCT = ["，", "，", "，", "。", "、", "；", "：", "？", "！"]

JA = """データ ファイル リクエスト モデル 処理 分析 結果 問題 ユーザー 顧客 注文 製品 価格
レポート システム サービス 設定 エラー ログ 時間 今日 明日 昨日 会議 計画 予算 売上 市場
これ それ あれ この その 私 私たち 皆さん 確認 翻訳 要約 説明 修正 改善 比較 作成 更新 削除
を は が に で と も から まで より の へ や
します しました してください できます ありません です でした ます ません ください
お願いします よろしく ありがとうございます 少し とても 必ず すぐに まだ もう 次 最後
テキスト コード 関数 変数 テスト バージョン ページ 文書 段落 例 手順 詳細 簡単 重要""".split()
JA_PUNCT = ["、", "、", "。", "。", "「", "」", "？", "！"]

KO = """데이터 파일 요청 모델 처리 분석 결과 문제 사용자 고객 주문 제품 가격 보고서 시스템
서비스 설정 오류 로그 시간 오늘 내일 어제 회의 계획 예산 매출 시장 이 그 저 우리 여러분
데이터를 파일을 요청을 결과를 문제를 확인해 주세요 번역해 요약해 설명해 수정해 개선해 비교해
작성해 업데이트 삭제 합니다 했습니다 하세요 있습니다 없습니다 입니다 됩니다 주세요 감사합니다
조금 매우 반드시 바로 아직 이미 다음 마지막 텍스트 코드 함수 변수 테스트 버전 페이지 문서
예를 들어 단계 자세히 간단히 중요한 그리고 하지만 그래서 때문에 만약 또는 모든 각각""".split()

RU = """и в не на я что с по это как а но он она они мы вы к у из за от для до при о же
данные файл файлы запрос запросы модель обработка анализ результат результаты проблема
пользователь пользователи клиент клиенты заказ заказы товар цена цены отчёт система сервис
настройка ошибка ошибки журнал время сегодня завтра вчера встреча план бюджет продажи рынок
пожалуйста помогите напишите объясните переведите проверьте исправьте улучшите сравните
создайте обновите удалите нужно можно должен должна уже ещё очень просто подробно кратко
важно текст код функция переменная тест версия страница документ раздел пример шаг шаги
первый второй следующий последний также потому поэтому если когда где почему сколько""".split()

AR = """في من على إلى عن مع هذا هذه ذلك التي الذي كان يكون لا نعم أو ثم لكن إذا عندما
البيانات الملف الملفات الطلب الطلبات النموذج المعالجة التحليل النتيجة النتائج المشكلة
المستخدم المستخدمين العميل العملاء الطلبية المنتج السعر الأسعار التقرير النظام الخدمة
الإعدادات الخطأ الأخطاء السجل الوقت اليوم غدا أمس الاجتماع الخطة الميزانية المبيعات السوق
من فضلك ساعدني اكتب اشرح ترجم لخص تحقق أصلح حسن قارن أنشئ حدث احذف يجب يمكن جدا بسيط
مهم النص الكود الدالة المتغير الاختبار الإصدار الصفحة المستند القسم مثال خطوة أولا ثانيا
أخيرا أيضا لأن لذلك كيف لماذا أين كم شكرا مرحبا""".split()
AR_PUNCT = ["،", "،", ".", "؟", "؛"]

HI = """और का की के में है हैं को से पर यह वह हम आप मैं नहीं भी तो कि या लेकिन जब अगर क्योंकि
डेटा फ़ाइल अनुरोध मॉडल प्रोसेसिंग विश्लेषण परिणाम समस्या उपयोगकर्ता ग्राहक ऑर्डर उत्पाद
कीमत रिपोर्ट सिस्टम सेवा सेटिंग त्रुटि लॉग समय आज कल बैठक योजना बजट बिक्री बाज़ार कृपया
मदद लिखिए समझाइए अनुवाद सारांश जाँच ठीक सुधार तुलना बनाइए अपडेट हटाइए चाहिए सकते बहुत आसान
ज़रूरी पाठ कोड फ़ंक्शन टेस्ट संस्करण पृष्ठ दस्तावेज़ भाग उदाहरण चरण पहला दूसरा अगला अंतिम
धन्यवाद नमस्ते करें करना किया गया होगा था थी थे""".split()

EMOJI = ["🙂", "😀", "😂", "🤔", "👍", "👍🏽", "👋🏻", "🙏🏾", "💪🏼", "🎉", "🚀", "🔥", "✅",
         "❌", "⚠️", "❤️", "✨", "📈", "📉", "📎", "💡", "🤖", "🧠", "👀", "😅", "🙌🏿",
         "👨‍👩‍👧", "👩‍💻", "🧑🏽‍🚀", "🏳️‍🌈", "👨🏻‍🍳", "🇯🇵", "🇺🇸", "🇩🇪", "🇮🇳", "🇧🇷", "🇫🇷",
         "1️⃣", "©️", "☕", "🍕", "⭐", "💯", "🤝🏻", "😊", "🥲"]

TLDS = ["com", "org", "io", "net", "dev", "co.uk", "de", "jp"]
URL_PATHS = ["docs", "api", "v1", "v2", "users", "orders", "reports", "blog", "help", "search",
             "products", "items", "settings", "files", "download", "status"]

PY_NAMES = ["data", "rows", "result", "items", "user", "order", "total", "count", "value",
            "path", "line", "record", "batch", "config", "client", "response", "payload",
            "index", "key", "cache", "queue", "text", "tokens", "price", "amount", "name"]
PY_FUNCS = ["load", "parse", "process", "compute", "validate", "fetch", "send", "update",
            "merge", "filter", "group", "normalize", "encode", "decode", "retry", "flush"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        r = self.r
        # Invented words: names, products, places and jargon, a few thousand of them.
        self.tail = []
        for _ in range(4000):
            w = "".join(r.choice(SYL) for _ in range(r.choice([2, 2, 3, 3, 4])))
            self.tail.append(w.capitalize() if r.random() < 0.5 else w)
        self.idents = []
        for _ in range(1500):
            parts = [r.choice(PY_NAMES + PY_FUNCS + SYL) for _ in range(r.choice([1, 2, 2, 3]))]
            self.idents.append(parts)
        self.system_prompts = [self.system_prompt() for _ in range(4)]

    # ---- building blocks ---------------------------------------------------------------

    def zipf(self, words):
        """A word from `words`, the first ones most often: half the draws log-uniform over the
        ranks (Zipf's 1/rank), half uniform, so the top word is about 5% of the text."""
        n = len(words)
        if self.r.random() < 0.5:
            return words[self.r.randrange(n)]
        return words[min(int((n + 1) ** self.r.random()) - 1, n - 1)]

    def number(self):
        r = self.r
        k = r.random()
        if k < 0.3:
            return str(r.randint(0, 100))
        if k < 0.5:
            return f"{r.randint(1000, 9_999_999):,}"
        if k < 0.65:
            return f"{r.uniform(0, 1000):.2f}"
        if k < 0.75:
            return f"{r.randint(1, 99)}%"
        if k < 0.85:
            return f"${r.randint(1, 9999)}.{r.randint(0, 99):02d}"
        if k < 0.95:
            return f"{r.randint(2019, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        return f"+1 ({r.randint(200, 999)}) {r.randint(200, 999)}-{r.randint(1000, 9999)}"

    def url(self):
        r = self.r
        host = r.choice(self.tail).lower()
        path = "/".join(r.choice(URL_PATHS) for _ in range(r.randint(0, 3)))
        u = f"https://{'www.' if r.random() < 0.3 else ''}{host}.{r.choice(TLDS)}/{path}"
        if r.random() < 0.3:
            u += f"?id={r.randint(1, 99999)}&lang={r.choice(['en', 'ja', 'de', 'zh-CN'])}"
        return u

    def email(self):
        return f"{self.r.choice(self.tail).lower()}.{self.r.choice(SYL)}@{self.r.choice(self.tail).lower()}.com"

    def english_word(self):
        r = self.r
        k = r.random()
        if k < 0.03:
            return r.choice(EN_CONTRACTIONS)
        if k < 0.07:
            return r.choice(self.tail)
        if k < 0.09:
            return self.number()
        w = self.zipf(EN)
        k = r.random()
        if k < 0.04:
            w += r.choice(["s", "ed", "ing", "ly", "er"])
        elif k < 0.05:
            w = w.upper()
        return w

    def english_sentence(self):
        r = self.r
        words = [self.english_word() for _ in range(max(3, int(r.lognormvariate(2.5, 0.5))))]
        words[0] = words[0][:1].upper() + words[0][1:]
        for i in range(1, len(words) - 1):
            if r.random() < 0.06:
                words[i] += r.choice([",", ",", ",", ";", ":"])
            elif r.random() < 0.01:
                words[i] = f"({words[i]})"
            elif r.random() < 0.01:
                words[i] = f'"{words[i]}"'
            elif r.random() < 0.005:
                words[i] = self.url()
            elif r.random() < 0.003:
                words[i] = self.email()
        end = r.choices([".", "?", "!", ":", "..."], [80, 10, 4, 4, 2])[0]
        s = " ".join(words) + end
        if r.random() < 0.04:
            s += " " + r.choice(EMOJI)
        return s

    def cjk_sentence(self, words, punct, spaced):
        r = self.r
        n = max(3, int(r.lognormvariate(2.3, 0.5)))
        out = []
        for i in range(n):
            k = r.random()
            if k < 0.04:
                w = self.english_word()
                out.append(f" {w} " if not spaced else w)
            elif k < 0.07:
                out.append(self.number())
            else:
                out.append(self.zipf(words))
            if i < n - 1 and r.random() < 0.12:
                out.append(r.choice(punct[:-2]) if not spaced else ",")
        sep = " " if spaced else ""
        s = sep.join(out)
        s += r.choice(punct[-2:] + ["。"] * 4) if not spaced else r.choice([".", ".", "?", "!"])
        if r.random() < 0.05:
            s += r.choice(EMOJI)
        return s

    def spaced_sentence(self, words, punct, end):
        r = self.r
        n = max(3, int(r.lognormvariate(2.4, 0.5)))
        out = []
        for _ in range(n):
            k = r.random()
            if k < 0.04:
                out.append(self.english_word())
            elif k < 0.06:
                out.append(self.number())
            elif k < 0.08:
                out.append(r.choice(self.tail))
            else:
                out.append(self.zipf(words))
            if r.random() < 0.08:
                out[-1] += r.choice(punct)
        s = " ".join(out)
        if words is RU:
            s = s[:1].upper() + s[1:]
        s += r.choice(end)
        if r.random() < 0.04:
            s += " " + r.choice(EMOJI)
        return s

    def sentence(self, lang):
        if lang == "en":
            return self.english_sentence()
        if lang == "zh":
            return self.cjk_sentence(ZH, ZH_PUNCT, False)
        if lang == "ja":
            return self.cjk_sentence(JA, JA_PUNCT, False)
        if lang == "ko":
            return self.spaced_sentence(KO, [",", ""], [".", ".", "?", "요."])
        if lang == "ru":
            return self.spaced_sentence(RU, [",", ",", ":", " —"], [".", ".", "?", "!"])
        if lang == "ar":
            return self.spaced_sentence(AR, AR_PUNCT[:2], [".", ".", "؟"])
        if lang == "hi":
            return self.spaced_sentence(HI, [",", ""], ["।", "।", "?"])
        raise ValueError(lang)

    def paragraph(self, lang, chars):
        out, size = [], 0
        sep = "" if lang in ("zh", "ja") else " "
        while size < chars:
            s = self.sentence(lang)
            out.append(s)
            size += len(s) + 1
        return sep.join(out)

    def prose(self, lang, chars):
        r = self.r
        paras, size = [], 0
        while size < chars:
            k = r.random()
            if k < 0.15 and size > 0:
                # A bulleted or numbered list.
                bullet = r.choice(["- ", "* ", "• ", None])
                items = []
                for i in range(r.randint(2, 7)):
                    mark = bullet or f"{i + 1}. "
                    items.append(mark + self.sentence(lang))
                p = "\n".join(items)
            elif k < 0.2:
                p = "#" * r.randint(1, 3) + " " + self.sentence(lang).rstrip(".。?!")
            else:
                p = self.paragraph(lang, int(r.lognormvariate(5.3, 0.6)))
            paras.append(p)
            size += len(p) + 2
        return "\n\n".join(paras)

    # ---- code and JSON -----------------------------------------------------------------

    def ident(self, style):
        parts = self.r.choice(self.idents)
        if style == "snake":
            return "_".join(parts)
        if style == "camel":
            return parts[0] + "".join(p.capitalize() for p in parts[1:])
        return "".join(p.capitalize() for p in parts)

    def python_code(self):
        r = self.r
        lines = []
        for _ in range(r.randint(1, 3)):
            fn, a, b = self.ident("snake"), self.ident("snake"), self.ident("snake")
            lines.append(f"def {fn}({a}, {b}=None):")
            lines.append(f'    """{self.english_sentence()}"""')
            for _ in range(r.randint(2, 8)):
                k = r.random()
                v = self.ident("snake")
                if k < 0.3:
                    lines.append(f"    {v} = {a}.get(\"{self.ident('snake')}\", {self.number().replace(',', '')})")
                elif k < 0.5:
                    lines.append(f"    for {v} in {a}:")
                    lines.append(f"        if {v} is None:")
                    lines.append("            continue")
                    lines.append(f"        {b}.append({v} * {r.randint(2, 100)})")
                elif k < 0.7:
                    pad = " " * r.randint(1, 24)
                    lines.append(f"    {v} = {a}[{r.randint(0, 9)}]{pad}# {self.english_sentence().lower()}")
                elif k < 0.8:
                    lines.append("")
                    lines.append(f"    # TODO: {self.english_sentence()}")
                else:
                    lines.append(f"    if not {v}:")
                    lines.append(f"        raise ValueError(f\"bad {{{v}!r}}\")")
            lines.append(f"    return {b}")
            lines.append("")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def rust_code(self):
        r = self.r
        lines = []
        st = self.ident("pascal")
        lines.append("#[derive(Debug, Clone, PartialEq)]")
        lines.append(f"pub struct {st} {{")
        for _ in range(r.randint(2, 6)):
            lines.append(f"    pub {self.ident('snake')}: {r.choice(['u64', 'String', 'Vec<u8>', 'Option<f64>', 'bool'])},")
        lines.append("}")
        lines.append("")
        lines.append(f"impl {st} {{")
        for _ in range(r.randint(1, 3)):
            fn = self.ident("snake")
            lines.append(f"    /// {self.english_sentence()}")
            lines.append(f"    pub fn {fn}(&self, {self.ident('snake')}: &[u8]) -> Result<usize, Error> {{")
            for _ in range(r.randint(1, 6)):
                k = r.random()
                v = self.ident("snake")
                if k < 0.4:
                    lines.append(f"        let {v} = self.{self.ident('snake')}.len() + {r.randint(1, 64)};")
                elif k < 0.7:
                    lines.append(f"        if {v} > {r.randint(0, 4096)} {{")
                    lines.append(f"            return Err(Error::new(\"{self.english_sentence()}\"));")
                    lines.append("        }")
                else:
                    pad = " " * r.randint(1, 20)
                    lines.append(f"        {v}.push(b'{r.choice('abcxyz')}');{pad}// {self.english_sentence().lower()}")
            lines.append(f"        Ok({r.randint(0, 100)})")
            lines.append("    }")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def js_code(self):
        r = self.r
        lines = []
        fn = self.ident("camel")
        lines.append(f"async function {fn}({self.ident('camel')}, options = {{}}) {{")
        lines.append(f"  const res = await fetch(`{self.url()}`, {{")
        lines.append("    method: 'POST',")
        lines.append("    headers: { 'Content-Type': 'application/json' },")
        lines.append(f"    body: JSON.stringify({{ {self.ident('camel')}: {r.randint(1, 500)} }}),")
        lines.append("  });")
        for _ in range(r.randint(1, 6)):
            k = r.random()
            v = self.ident("camel")
            if k < 0.4:
                lines.append(f"  const {v} = res.{self.ident('camel')} ?? {r.randint(0, 99)};")
            elif k < 0.7:
                lines.append(f"  if ({v} === undefined) {{")
                lines.append(f"    throw new Error('{self.english_sentence()}');")
                lines.append("  }")
            else:
                lines.append(f"  {v}.forEach((x) => console.log(x.{self.ident('camel')}));" + " " * r.randint(0, 12) + f"// {self.english_word()}")
        lines.append("  return res.json();")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def code_block(self):
        r = self.r
        lang, body = r.choice([("python", self.python_code), ("python", self.python_code),
                               ("rust", self.rust_code), ("javascript", self.js_code),
                               ("js", self.js_code)])
        code = body()
        if r.random() < 0.15:
            # Tabs instead of spaces, as some editors paste.
            code = code.replace("    ", "\t")
        return f"```{lang}\n{code}```"

    def json_value(self, depth=0):
        r = self.r
        k = r.random()
        if depth < 3 and k < 0.25:
            return {self.ident(r.choice(["snake", "camel"])): self.json_value(depth + 1)
                    for _ in range(r.randint(1, 5))}
        if depth < 3 and k < 0.35:
            return [self.json_value(depth + 1) for _ in range(r.randint(1, 4))]
        if k < 0.55:
            return r.randint(-10, 100000)
        if k < 0.65:
            return round(r.uniform(-100, 100), r.randint(1, 6))
        if k < 0.7:
            return r.choice([True, False, None])
        if k < 0.8:
            return self.url()
        lang = r.choice(["en", "en", "en", "zh", "ja", "ru"])
        return self.sentence(lang)

    def json_doc(self):
        r = self.r
        doc = {self.ident("snake"): self.json_value(1) for _ in range(r.randint(2, 8))}
        indent = r.choice([None, None, 2, 4])
        text = json.dumps(doc, ensure_ascii=r.random() < 0.3, indent=indent)
        if r.random() < 0.5:
            return f"```json\n{text}\n```"
        return text

    # ---- messages and requests ---------------------------------------------------------

    def system_prompt(self):
        r = self.r
        parts = [f"You are {r.choice(['a helpful', 'an expert', 'a careful', 'a concise'])} "
                 f"assistant for {r.choice(self.tail)}, {self.english_sentence().lower()}"]
        parts.append(self.prose("en", r.randint(600, 3000)))
        rules = "\n".join(f"{i + 1}. {self.english_sentence()}" for i in range(r.randint(3, 10)))
        parts.append("Rules:\n" + rules)
        if r.random() < 0.5:
            parts.append("Answer in this JSON format:\n" + self.json_doc())
        return "\n\n".join(parts)

    def user_message(self, lang):
        r = self.r
        length = min(int(r.lognormvariate(5.8, 1.0)), 40000)
        if r.random() < 0.04:
            # A long pasted document.
            length = r.randint(8000, 40000)
        parts = []
        k = r.random()
        if k < 0.12:
            parts.append(self.sentence(lang))
            parts.append(self.code_block())
        elif k < 0.2:
            parts.append(self.sentence(lang))
            parts.append(self.json_doc())
        parts.append(self.prose(lang, length))
        if r.random() < 0.08:
            parts.append(" ".join(r.choice(EMOJI) for _ in range(r.randint(1, 4))))
        return "\n\n".join(parts)

    def assistant_message(self, lang):
        r = self.r
        parts = [self.prose(lang, min(int(r.lognormvariate(6.0, 0.8)), 20000))]
        k = r.random()
        if k < 0.15:
            parts.append(self.code_block())
            parts.append(self.paragraph(lang, 200))
        elif k < 0.22:
            parts.append(self.json_doc())
        return "\n\n".join(parts)

    def request(self, i):
        r = self.r
        lang = r.choices(["en", "zh", "ja", "ko", "ru", "ar", "hi"], [70, 7, 6, 4, 5, 4, 4])[0]
        msgs = []
        k = r.random()
        if k < 0.35:
            msgs.append({"role": "system", "content": self.system_prompts[int(4 * r.random() ** 2)]})
        elif k < 0.8:
            msgs.append({"role": "system", "content": self.paragraph("en", r.randint(40, 400))})
        turns = int(r.choices([1, 1, 1, 2, 2, 3, 4, 6])[0])
        for t in range(turns):
            msgs.append({"role": "user", "content": self.user_message(lang)})
            if t < turns - 1:
                msgs.append({"role": "assistant", "content": self.assistant_message(lang)})
        body = {"model": r.choice(["gpt-4o-mini", "gpt-4o-mini", "gpt-4.1-mini", "gpt-4o-2024-08-06",
                                   "gpt-5-mini"]),
                "messages": msgs}
        if r.random() < 0.7:
            body["max_tokens"] = r.choice([256, 512, 1024, 2048, 4096])
        if r.random() < 0.3:
            body["temperature"] = r.choice([0, 0.2, 0.7, 1])
        return {"custom_id": f"req-{i:08d}", "method": "POST", "url": "/v1/chat/completions",
                "body": body}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--bytes", type=float, default=100e6)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--ascii-share", type=float, default=0.5,
                    help="share of lines written with \\uXXXX escapes (json.dumps' default)")
    a = ap.parse_args()
    g = Gen(a.seed)
    written, i = 0, 0
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        while written < a.bytes:
            req = g.request(i)
            line = json.dumps(req, ensure_ascii=g.r.random() < a.ascii_share) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            i += 1
    print(f"{a.out}: {i} requests, {written} bytes", file=sys.stderr)


main()
