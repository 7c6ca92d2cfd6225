"""The readable rule layer: what a clause says about risk, and how it is scoped.

Each clause of a reading (see ``normalize.reading``) is searched for phrases of risk, and each
phrase is scoped: *negated* ("I'm not suicidal"), *past* ("five years ago I tried to end it")
unless the clause or its neighbour brings it back ("again", "last night", "it's back"), or
*about someone else* ("my son says he wants to die"). ``signals`` returns these as short names
(``ideation``, ``overdose_taken:past``, ``other:self_harm``...) that the statistical layer takes
as features beside the words, and ``strong`` picks out the few that are decisive on their own.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["PHRASES", "Signal", "signals", "strong"]

# Shared pieces, in normalized form (no apostrophes: "dont", "im", "cant", "wont").
_ME = r"(?:myself|my self|meself|me self)"
_NOT_NEGATED = r"(?<!dont )(?<!do not )(?<!didnt )(?<!did not )(?<!never )(?<!not )"
_NEG = r"(?:dont|do not|didnt|did not|no longer|never)"
_WANT = "want|wanna|wanted|wanting|need|needed"
_END = r"(?= \.|$)"  # the end of a clause
_SOON = r"(?:anymore|any more|any longer|much longer)"

# First-person risk phrases by category, searched in the reading of one clause.
PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "direct",
        (
            rf"\bkill(?:ing|ed)? {_ME}\b",
            # Also catches common misspellings ("sucide", "suiside"); "suicidal" and the like.
            # "suicidal", and "suicide" as something one thinks of or plans; the word alone
            # ("a suicide mission", "died by suicide") is a mention, not a risk.
            r"\bs[uo]{1,2}i?[cs]{1,2}i?d(?:al|ally|ality)\b",
            r"\b(?:commit|committing|thinking (?:about|of)|thoughts of|think about|thought about|"
            r"contemplating|considering|planning|plan|attempt|attempting|going to|gonna) "
            r"(?:\w+ )?s[uo]{1,2}i?[cs]{1,2}i?d(?:e|es)\b",
            r"\bend(?:ing|ed)? (?:my (?:own )?life|it all|my existence|everything)\b",
            r"\bend(?:ing)? it (?:tonight|today|now|for good|soon)\b",
            rf"\b(?:want|wanna|going|gonna|planning|plan|ready|decided) to end it{_END}",
            r"\b(?:feel like|thinking (?:about|of)|thought (?:about|of)|considering|contemplating|"
            r"decided to|going to|gonna|want to|wanna|ready to|plan to|planning to|about to|"
            rf"tempted to) end(?:ing)? (?:it|things|everything|it all){_END}",
            # "tonight I end it", but not "I never know how I end it" (a drawing, a story).
            r"(?<!how )(?<!where )(?<!when )\b(?:i|ill|im going to|im gonna|i will) end "
            rf"(?:it|things|it all){_END}",
            r"\b(?:ways|way|how|methods?) to (?:die|kill myself|end my life|overdose)\b",
            r"\bi (?:should|ought to|deserve to|might as well) (?:just )?die\b"
            r"(?! (?:of|on|for|from|laughing)\b)",
            # "want to die", but not "don't want to die" or "ready to die on this hill".
            rf"{_NOT_NEGATED}\b(?:{_WANT}|deserve|deserved|trying|ready|planning|plan)"
            r" (?:to )?(?:just )?(?:die|be dead)\b"
            r"(?! (?:of|on|for|from|laughing|happy|inside|in peace|with laughter|a little)\b)",
            # "take my own life"; not "taking my life back" or "take my life one day at a time".
            r"\b(?:take|taking|took) my own life\b",
            r"\b(?:take|taking|took) my life\b"
            r"(?! (?:back|into|in|forward|one|seriously|more|apart|with)\b)",
            rf"\b(?:hang|hanging|hanged|stab|stabbing|suffocate|suffocating) {_ME}\b",
            rf"\b(?:shoot|shooting) {_ME}\b(?! in the (?:foot|feet)\b)",
            r"\b(?:overdos(?:e|ed|ing)|od) (?:on purpose|intentionally|deliberately)\b",
            r"\b(?:want|wanna|wanted|going|gonna|planning|plan|thinking about|thought about|"
            r"tempted|trying) (?:to )?(?:overdose|od|take an overdose)\b",
            r"\b(?:take|taking|took|swallow|swallowing|swallowed) (?:a bunch|a handful|handfuls|"
            r"the whole bottle|the whole packet) (?:of )?(?:my |the |these |those )?"
            r"(?:pills|meds|medication|tablets|painkillers|sleeping pills)\b",
            # "took all my pills" alone is someone keeping to their prescription.
            r"\b(?:take|taking|took|swallow\w*) all (?:of )?(?:my |the )?(?:pills|meds|tablets|"
            r"medication) (?:at once|in one go|together)\b",
            r"\b(?:stockpil\w*|sav(?:e|ed|ing) up|hoard\w*) (?:enough |my |all my |all the )?"
            r"(?:pills|meds|tablets|medication)\b",
            r"\b(?:pills|meds|tablets|medication) saved up\b|\benough (?:pills|meds|tablets) to\b",
            r"(?<!bungee )\bjump(?:ing|ed)? (?:off|from) (?:a|the|this|that|my) (?:bridge|"
            r"building|roof|rooftop|cliff|tower|balcony|car park)\b",
            r"\b(?:jump|jumping|step|stepping|throw myself) (?:in front of|under) (?:a|the) "
            r"(?:train|bus|car|truck|lorry|tram)\b",
            r"\bbetter off (?:dead|gone|not existing|not here|not alive|never born)\b",
            r"\b(?:tried|try|trying|attempted|attempt) to (?:overdose|od|kill myself|end my life|"
            r"end it|die|hang myself)\b",
            r"\b(?:i|ive|i have) (?:took|taken|had) an overdose\b",
            r"\b(?:too many|extra|all my|a lot of|loads of) (?:pills|meds|tablets|painkillers)"
            r"(?: \w+){0,2} (?:on purpose|deliberately|intentionally)\b",
            r"\b(?:going to|gonna|want to|wanna|will|plan to|planning to|about to) (?:take|"
            r"swallow) all (?:of )?(?:my |the )?(?:pills|meds|tablets|medication)\b",
            rf"\b(?:thinking|thought|think) (?:a lot |so much )?(?:about|of) jumping(?:{_END}| "
            r"(?:off|from|in front)\b)",
            r"\bfeel(?:ing)? like dying\b",
            r"\bnoose\b|\b(?:the|a|my) rope (?:is )?(?:ready|tied)\b",
            r"\b(?:drive|driving|crash|crashing|steer|steering) (?:my car )?(?:into|off) (?:a|the) "
            r"(?:wall|tree|bridge|cliff|river|lorry|truck|oncoming traffic)\b",
            r"\b(?:thinking|thought|thoughts|think|dream|dreaming|fantasi[sz]\w*|obsess\w*|"
            r"imagin\w*|pictur\w*) (?:a lot |so much )?(?:about |of )?(?:dying|being dead|"
            r"not being here|not existing|ending it|ending my life|killing myself|my own death|"
            r"my funeral|my own funeral|overdosing)\b",
            # "looking at the pills and thinking about taking them all", within one clause.
            r"\b(?:pills|meds|tablets|painkillers)\b[^.]{0,60}\b(?:tak(?:e|ing)|swallow\w*) "
            r"(?:them all|all of them)\b",
            r"\b(?:going to|gonna|might|will|about to|afraid ill|scared ill|worried ill|ill) do "
            rf"something (?:stupid|drastic|permanent)(?: (?:tonight|today|to myself)\b|{_END})",
            r"\b(?:im not|i am not|i dont feel|i do not feel|not feeling) safe(?: (?:right now|"
            r"tonight|at the moment|anymore|with myself|from myself|at home|around myself)\b|"
            rf"{_END})",
            r"\brather be dead\b",
            # "I'd rather die" is hyperbole before "than sing karaoke", not before "than feel this".
            r"\b(?:id|i would) (?:much )?rather (?:just )?die\b(?! than (?!(?:keep|go on|live|"
            r"living|feel|feeling|continue|carry on|be like this)\b))",
            r"\b(?:have|got|made|with) (?:a|the) plan and (?:the )?means\b",
        ),
    ),
    (
        "self-harm",
        (
            r"\bself ?(?:harm\w*|injur\w*|mutilat\w*)\b",
            # "cut myself", but not "a slice of cake", "some slack", or an accident.
            rf"(?<!accidentally )(?<!nearly )(?<!almost )\bcut(?:ting|s)? (?:{_ME}|my (?:arms?|"
            r"wrists?|legs?|thighs?|skin|stomach|body))\b"
            r"(?! (?:a|an|some|another|off|out|free|short|loose|in half|slack|shaving|while|"
            r"by accident|accidentally|on (?:a|the|some|my|paper|glass|broken)|with (?:a |the |"
            r"my )?(?:paper|scissors|craft|kitchen|bread|stanley))\b)",
            r"\bslit(?:ting)? my (?:wrists?|throat|arms?)\b",
            r"\b(?:i|ive|i have|and) (?:cut|been cutting)(?: again)? (?:last night|tonight|"
            r"this morning|yesterday)\b",
            r"\b(?:been|keep|kept|started|start) (?:hitting|hurting|harming|cutting|burning|"
            rf"scratching|punching|punishing|starving) {_ME}\b",
            r"\bsh (?:urges?|again|thoughts|scars?|relapse)\b",
            r"\bcutting (?:is|was) the only (?:thing|way)\b",
            # Starving is self-harm too; days without food is worth a gentle check-in either way.
            r"\b(?:havent|have not|hadnt|not) eaten (?:in|for) (?:days|a week|weeks)\b",
            r"\b(?:cutting|self harm|hurting myself|burning myself) (?:makes|made|helps|helped) me "
            r"(?:feel|cope|calm)\b",
            r"\bcutting again\b",
            r"\b(?:started|start|starting|back to|went back to|relaps\w*(?: on| into| with)?|"
            r"urges? to|urge for|craving|crave|stop myself from|clean from|free from) (?:cutting|"
            r"self harm)\b(?! (?:paper|out|the|shapes|board|mat|fabric|tools?|back|down|it|"
            r"corners|edges|up|a|an|some|them|wood|my hair|hair|costs|class|classes|sugar|"
            r"carbs)\b)",
            rf"\b(?:urges?|{_WANT}|tempted) (?:to )?cut\b"
            r"(?=(?: \.|$| (?:again|so bad|badly|tonight|deeper)\b))",
            r"\b(?:want|wanna|wanted|wanting|going|gonna|urges?|need|needed|tempted|plan|planning|"
            r"thinking (?:about|of)|thought (?:about|of)|stop myself from|trying not to|"
            r"keep wanting|trying to not|try not to|ill|i will|i might|i may) (?:to )?"
            r"(?:hurt|hurting|harm|harming|cut|cutting|burn|burning|punish|punishing|scratch|"
            rf"scratching|hit|hitting) {_ME}\b",
            r"\b(?:hurt|hurting|harm|harming|cut|cutting|burn|burning|burned|burnt|hit|hitting|"
            rf"scratch|scratching|punish|punishing) {_ME} (?:again|on purpose|deliberately|"
            r"intentionally|to feel|to cope|so i can feel|to make it stop)\b",
            rf"\b(?:burn|burning|burned|burnt) {_ME} with (?:a |the )?(?:cigarettes?|lighters?|"
            r"matches)\b",
            rf"\bmak(?:e|ing) {_ME} (?:bleed|throw up|puke|vomit)\b",
            r"\b(?:myself|my (?:arms?|skin|legs?|wrists?|thighs?)) (?:until|till|til) (?:i|it|they)"
            r" (?:bled|bleed|bleeds|was bleeding|started bleeding)\b",
            rf"\bstarv(?:e|ing|ed) {_ME}\b",
            r"\b(?:relaps\w*|urges?|clean from|urge to|craving) (?:on |into |with |to |from )?"
            r"sh\b",
        ),
    ),
    (
        "slang",
        (
            # "kms" ("kill myself"), but not "60 kms an hour".
            r"(?<![0-9] )(?<![0-9])\bkms\b",
            r"\bun ?aliv(?:e|ed|es|ing)\b",
            r"\bsewer ?slid(?:e|ing)\b",
            rf"\b(?:off|offing|top|topping|delete|deleting|end|ending) {_ME}\b",
            r"\bself ?delet(?:e|ed|ing|ion)\b",
            rf"\b(?:toaster bath|neck rope|rope {_ME})\b",
        ),
    ),
    (
        "indirect",
        (
            rf"\b{_NEG} (?:want|wanna|wish|feel like)(?: to)? (?:be alive|exist|live|be living|"
            r"keep living|stay alive|be on this earth|be in this world)\b"
            r"(?! (?:in|with|near|there|here|at|on|by|alone|somewhere|anywhere|together|next|"
            r"abroad|far|close|under|forever)\b)",
            rf"\b{_NEG} (?:want|wanna)(?: to)? be (?:here|around) {_SOON}\b",
            rf"\b{_NEG} (?:want|wanna)(?: to)? be here{_END}",
            r"\b(?:not sure|unsure|dont know if|dont know whether|wonder if|no longer sure|"
            r"dont think|do not think) (?:i )?"
            r"(?:want|wanna)(?: to)? (?:be alive|live|exist|keep living|stay alive)\b"
            r"(?! (?:in|with|near|there|here|at|on|by|alone|somewhere|anywhere|together|next|"
            r"abroad|far|close|under|forever)\b)",
            r"\bstop (?:living|being alive|existing)\b",
            r"\bwhy (?:should|would|do) i (?:keep living|stay alive|bother living|even exist|exist|"
            rf"go on living|be alive|(?:keep going|go on|bother){_END})",
            r"\b(?:want|wanna|wish i was|wish i were|wish to be|ready to be)(?: to)? (?:just )?"
            rf"(?:be )?gone(?:{_END}| (?:forever|for good)\b)",
            r"\bhate (?:being alive|existing|living)\b(?! (?:in|with|here|there|near|so|far|alone|"
            r"out|next)\b)",
            r"\b(?:cant|cannot|can not|dont want to|dont wanna|dont think i can|unable to) "
            r"(?:go on|carry on|keep going|do life|keep living|live like this|continue living)"
            rf"(?:{_END}| (?:anymore|any more|any longer|like this|much longer|living|with life|"
            r"with this life)\b)",
            r"\b(?:better|easier|happier)(?: off| place| world)? without me\b",
            r"\bif i (?:wasnt|werent|was not|were not) (?:here|around|alive)(?: \w+){0,2} "
            r"(?:would|d) be (?:easier|better|happier|fine)\b",
            r"\bhow (?:much )?longer i can (?:go on|keep going|keep living|do this|take this|"
            r"hold on)\b",
            r"\b(?:better|easier|happier|fine|okay|ok) (?:off )?(?:for (?:everyone|everybody|them|"
            r"my family|you all|all) )?(?:if|when|once) (?:i|im) "
            r"(?:gone|dead|not here|not around|died|disappeared|didnt exist|never existed|"
            r"(?:was|were|am) (?:gone|dead|not here|not around|never born)|"
            r"(?:wasnt|werent|was not|were not) (?:here|around|alive|born))\b",
            r"\b(?:no|not a|not any|not one) (?:single )?reasons? (?:left )?(?:to|for) (?:live|"
            r"living|stay alive|go on|going on|keep going|be alive|keep living|exist)\b",
            r"\b(?:dont|do not|cant|cannot) see (?:a|any|the) (?:reason|point) (?:to|in|of) "
            r"(?:live|living|keep living|go on|going on|be alive|being alive|stay alive|exist)\b",
            r"\bnothing (?:left )?to live for\b",
            r"\b(?:no|not much|nothing) (?:point|use|purpose) (?:in |of |to )?(?:living|"
            r"being alive|going on|carrying on|existing|me being here|my life)\b",
            r"\bwhats the point (?:of|in) (?:living|life|being alive|going on|existing|me|"
            r"it all|anything anymore)\b",
            r"\b(?:no|whats the) point (?:anymore|any more)\b",
            r"\bnot worth living\b",
            r"\b(?:life|lifes|my life|living) (?:is |s )?(?:not|no longer|isnt|aint|hardly|never) "
            r"worth\b",
            r"\b(?:tired|sick|done|exhausted) (?:of|with) (?:living|being alive|life|existing|"
            r"this life|my life)\b(?! (?:in|out|on|at|with|from|admin|insurance|lessons?|"
            r"drawing|skills?|stuff|chores|coaching|hacks?|paycheck|here|there)\b)",
            r"\bdone living\b",
            r"\b(?:no|cant see (?:a|any)|dont see (?:a|any)|cannot see (?:a|any)) (?:other )?way "
            r"(?:out|forward)\b(?! of (?:the|a|an|that|my|his|her)\b)",
            r"\b(?:life|my life|everything|existence|living) (?:is|feels|seems) (?:so |just )?"
            r"(?:meaningless|pointless|hopeless)\b",
            rf"\bi (?:just )?want out{_END}",
            r"\b(?:nobody|no one|noone|no body) (?:would|will|is going to|gonna)(?: even| really)? "
            r"(?:miss me|care if i (?:died|was gone|were gone|disappeared|was dead)|notice if i "
            r"(?:died|was gone|were gone|disappeared|was dead|wasnt here))\b",
            # "if I died nobody would care", the same thought the other way round.
            r"\bif (?:i|im) (?:died|disappeared|was gone|were gone|was dead|wasnt here|"
            r"wasnt around|gone|dead)(?: tomorrow| today| tonight)? (?:nobody|no one|noone|"
            r"would anyone|anyone would|who would) (?:would |will )?(?:even )?"
            r"(?:notice|care|miss me)\b",
            r"\b(?:when|after|once) (?:im|i am) (?:gone|dead)\b",
            r"\b(?:want|wanna|wish|need|needed) (?:it all|everything|all of it|all of this|"
            r"this all|my life|life) (?:all )?to (?:end|stop|be over)\b",
            r"\b(?:want|wanna|wish|need|needed) (?:it|this|the pain) (?:all )?to (?:end|stop|"
            r"be over) (?:forever|for good|permanently)\b",
            r"\bwont be (?:around|here|alive|a (?:problem|burden)(?: for you| to anyone| to you)?)"
            r" (?:much |for much |for )?(?:longer|anymore|any more)\b",
            r"\b(?:giv(?:e|ing|en)|gave|gonna give|going to give) (?:away (?:all (?:of )?)?my "
            r"(?:things|stuff|belongings|possessions|art supplies)|(?:all (?:of )?)?my "
            r"(?:things|stuff|belongings|possessions|art supplies) away)\b",
            r"\b(?:goodbye|farewell|suicide) (?:note|notes|letter|letters)\b",
            r"\bthis is (?:my )?(?:last )?goodbye\b",
            r"\bgoodbye (?:to (?:everyone|everybody|you all|all of you) )?(?:for good|forever)\b",
            r"\bdisappear(?:ing)? (?:forever|for good|permanently|and never come back)\b",
            r"\b(?:want|wanna|wish i could|wish to|need)(?: to)? (?:just )?(?:disappear|"
            r"vanish|stop existing|not exist|cease to exist|fade away)"
            rf"(?:{_END}| (?:forever|for good|completely|from (?:this|the) world)\b)",
            r"\bstop existing\b",
            r"\b(?:want|wanna|wish i could|just want to|wish to) (?:go to )?sleep (?:forever|"
            r"and never wake up|and not wake up)\b",
            r"\b(?:hope|wish|pray)(?: that)? i (?:dont|do not|never|wont|will not|would not|"
            r"wouldnt|didnt) wake up\b",
            r"\b(?:go to sleep|fall asleep|sleep) and (?:never|not) wake up\b",
            r"\b(?:want|wanna|wanted) to (?:never|not) wake up\b",
            r"\b(?:dont|do not) (?:want|wanna)(?: to)? wake up(?: (?:anymore|any more|ever again|"
            rf"again|tomorrow)\b|{_END})",
            r"\b(?:wish|wishing|wished|hope|hoping|pray|praying)(?: that)? (?:i|id) "
            r"(?:could |would |will |would just |could just |just )?(?:die|be dead|was dead|"
            r"were dead|didnt exist|wasnt alive|wasnt born|was never born|were never born|"
            r"had never been born|hadnt been born|never existed|not wake up|never wake up)\b",
            r"\b(?:im|i am|i feel like|i feel|feel like) (?:just |such )?(?:a )?(?:burden|"
            r"waste of space)(?: (?:to|on) (?:everyone|everybody|my family|them|you all|"
            r"the world|people))?\b",
            r"\b(?:tired of|sick of|hate) being (?:a |such a )?burden\b",
        ),
    ),
)


# Kinds the newer phrases add, each a tuple of patterns searched in one clause's reading.
_DRUG = (
    r"(?:pills?|tablets?|tabs|meds|medication|capsules|caps|paracetamol|acetaminophen|tylenol|"
    r"panadol|ibuprofen|aspirin|codeine|co codamol|cocodamol|tramadol|oxy\w*|morphine|fentanyl|"
    r"heroin|methadone|bupe|buprenorphine|subutex|suboxone|diazepam|valium|xanax|alprazolam|"
    r"benzos?|lorazepam|clonazepam|zopiclone|zolpidem|sleepers|sleeping pills|quetiapine|"
    r"seroquel|sertraline|citalopram|fluoxetine|prozac|amitriptyline|mirtazapine|lithium|"
    r"insulin|propranolol|pregabalin|gabapentin|antidepressants|painkillers|opioids|opiates|"
    r"percs?|xans?|bars|lean|script|prescription|stash|supply|dose|doses|\d+ ?mg)"
)
_NUM = r"(?:\d+|a (?:few|bunch|handful|load|lot)|all|every|the (?:whole|entire|rest)|whole|entire|"
_NUM += r"loads|lots|handfuls?|two|three|four|five|six|ten|twenty|thirty|forty|fifty|hundred|"
_NUM += r"double|triple|too many|extra|way too many|a box|a packet|a bottle|a strip|boxes|packs)"
_PLACE = (
    r"(?:bridge|viaduct|roof|rooftop|car park|multi ?storey|parking garage|cliff|cliffs|edge|"
    r"ledge|railway|rail line|train line|tracks|platform|motorway|river|canal|lake|sea|pier|"
    r"quarry|woods|forest|garage|loft|attic|shed|balcony|tower|building|top floor)"
)
_TIME = (
    r"(?:tonight|tomorrow|this weekend|on (?:monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday)|friday|saturday|sunday|monday|tuesday|wednesday|thursday|after the (?:funeral|"
    r"wedding|party|holidays|exam|results|kids|children)|when (?:everyone|they|he|she|the kids)"
    r"(?: are| is|s|re)? (?:asleep|gone|out|at work|away)|once (?:the kids|everyone|they|he|she)"
    r"\w*|at \d+ ?(?:am|pm)?|by (?:the )?(?:morning|end of the week|weekend)|before (?:christmas|"
    r"my birthday|the morning|sunrise))"
)
_KIN = (
    r"(?:son|daughter|kid|child|boy|girl|teen|teenager|brother|sister|bro|sis|mum|mom|mam|mother|"
    r"dad|father|husband|wife|partner|boyfriend|girlfriend|bf|gf|fiance|fiancee|friend|mate|"
    r"bestie|best friend|flatmate|roommate|housemate|colleague|coworker|patient|client|resident|"
    r"nan|gran|grandma|grandad|grandpa|granddaughter|grandson|niece|nephew|cousin|uncle|aunt|"
    r"auntie|neighbour|neighbor|student|pupil|sponsee|sponsor)"
)
_THEY = r"(?:he|she|they|hes|shes|theyre|him|her|them|his|their)"
_OTHER_SUBJECT = rf"(?:\bmy (?:\w+ )?{_KIN}s?\b|\bour (?:\w+ )?{_KIN}s?\b|\b{_THEY}\b)"
_FIRST_PERSON = r"\b(?:i|im|ive|id|ill|me|my|myself|mine)\b"

NEWER: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "overdose_taken",
        (
            rf"\b(?:took|taken|swallowed|necked|downed|had|done|did|popped|chugged|taking|"
            rf"swallowing) (?:\w+ ){{0,4}}{_NUM}\b(?: \w+){{0,4}} {_DRUG}\b",
            rf"\b(?:took|taken|swallowed|necked|downed|popped) (?:all (?:of )?(?:my |the |her |his )?)"
            rf"(?:\w+ )?{_DRUG}\b(?! (?:this morning|as prescribed|with (?:breakfast|food|dinner)|"
            r"on time|like (?:a good|i should)))",
            rf"\b{_NUM} (?:x |of )?(?:\w+ )?{_DRUG} (?:down|gone|in me|inside me|washed down)\b",
            r"\b(?:overdosed|overdosing|overdose|oded)\b",
            r"\bwashed (?:them|it|the \w+) down with\b",
            r"\b(?:mixed|mixing) (?:\w+ ){0,3}(?:with|and) (?:vodka|wine|alcohol|booze|drink|gin|"
            r"whiskey|beer)\b",
        ),
    ),
    (
        "means",
        (
            rf"\b(?:counted|counting|saved|saving|stockpiled|stockpiling|hoarded|hoarding|"
            rf"lined up|laid out|set out|stashed|been keeping|hidden|hid) "
            rf"(?:\w+ ){{0,4}}{_DRUG}\b",
            rf"\b{_DRUG} (?:\w+ ){{0,3}}(?:counted|saved up|stockpiled|lined up|laid out|ready|"
            r"in a row|on the (?:table|bed|counter|desk))\b",
            r"\b(?:bought|got|have|found|tied|ordered|holding) (?:a |the |some )?(?:rope|noose|"
            r"razor blades?|blades|gun|rifle|shotgun|charcoal|helium|belt)\b"
            r"(?! (?:for (?:the|my) (?:garden|shed|boat|macrame|craft|art|class)|swing))",
            r"\b(?:gun|rifle|shotgun) (?:is )?(?:loaded|in (?:my|the) (?:hand|lap|drawer|car))\b",
            rf"\benough (?:\w+ )?(?:to (?:do it|end it|not wake up|kill|die)|{_DRUG})\b",
        ),
    ),
    (
        "plan",
        (
            rf"\b(?:going|go|drive|driving|walk|walking|head|heading|get|getting|up) (?:to|down "
            rf"to|out to|on|onto) (?:the |a |that )?(?:\w+ )?{_PLACE}\b(?: \w+){{0,6}} "
            r"(?:and|to) (?:jump|end it|step off|let go|not come back|do it|finish it|go in)\b",
            rf"\b(?:jump|jumping|step off|stepping off|throw myself|go over) (?:off |from |in(?:to)? "
            rf"|under |in front of )?(?:the |a |that )?(?:\w+ )?{_PLACE}\b",
            rf"\b(?:do it|end it|go through with it|finish it|kill myself|be gone|end things|"
            rf"take them|take the lot|jump)(?: \w+){{0,3}} {_TIME}\b",
            rf"\b{_TIME}(?: \w+){{0,3}} (?:is the night|is the day|ill do it|i do it|im doing it|"
            r"i end it|ill end it|its happening|im going|i go)\b",
            r"\b(?:worked out|figured out|planned|planning|picked|chosen|chose) (?:\w+ ){0,3}"
            r"(?:how|when|where|the (?:day|date|place|spot|time)|a (?:date|spot|place))\b",
            r"\b(?:the|my) (?:spot|place|date) (?:is )?(?:picked|chosen|set)\b",
            r"\b(?:tonights|today is|tomorrow is|this is) the (?:night|day)\b",
        ),
    ),
    (
        "goodbye",
        (
            r"\b(?:goodbye|bye|farewell) (?:everyone|everybody|all|friends|circle|guys|yall|"
            r"world|for (?:good|ever|now and always)|forever)\b",
            r"\b(?:last|final) (?:post|message|drawing|painting|piece|picture|upload|caption|"
            r"time (?:ill|i will|youll|you will) (?:hear|see|post))\b",
            r"\bthank(?:s| you) (?:\w+ ){0,3}for (?:everything|all of it|all you did|being my)\b"
            r"(?: \w+){0,6} (?:goodbye|sorry|wont|cant|remember|take care of)\b",
            r"\bremember me\b|\bdont be sad\b|\bit wasnt your fault\b|\bim sorry for what\b",
            r"\bwont (?:be (?:here|around|posting|at (?:group|circle|session))|see (?:you|any of you)|"
            r"need (?:it|them|this|these)) (?:\w+ ){0,3}(?:anymore|any more|again|after|much longer|"
            r"tomorrow|next week)\b",
            r"\b(?:this is|its) (?:it|the end)(?: for me)?(?= \.|$)",
        ),
    ),
    (
        "arrangements",
        (
            r"\b(?:gave|given|giving|give) (?:away |out )?(?:\w+ ){0,3}(?:things|stuff|belongings|"
            r"paints|brushes|supplies|sketchbooks?|books|clothes|records|guitar|jewellery|"
            r"jewelry|ring)(?: away)?\b(?! (?:to (?:charity|the charity shop)|for (?:the|a) "
            r"(?:sale|fair|raffle)))",
            r"\b(?:rehom\w*|found a (?:new )?home for|sorted (?:out )?(?:someone|a home) for) "
            r"(?:\w+ ){0,2}(?:cat|dog|pet|budgie|rabbit|bird|fish|kitten|puppy)?\b",
            r"\b(?:wrote|written|writing|left|leaving) (?:\w+ ){0,3}(?:letters|a letter|notes?|"
            r"messages?) (?:for|to) (?:everyone|my (?:kids|family|children|son|daughter|mum|"
            r"husband|wife|partner)|each of)\b",
            r"\b(?:will|affairs|passwords|finances|paperwork|funeral) (?:is |are )?(?:all )?"
            r"(?:sorted|done|in order|written|updated|organised|organized|planned|arranged)\b",
            r"\b(?:sorted|sorting|put|putting|got|getting) (?:\w+ ){0,2}(?:affairs|will|"
            r"everything|things) (?:out |in order|sorted|straight)\b(?: \w+){0,4} (?:so|for when)\b",
            r"\bso (?:no one|nobody|noone|they|the kids|my family) (?:has|have|will have|wont have) "
            r"to (?:deal with|sort|worry|clean|find)\b",
        ),
    ),
    (
        "eating_disorder",
        (
            r"\b(?:havent|have not|hadnt|not|didnt|no food|nothing) (?:eaten|eat|ate|had (?:food|"
            r"anything|a meal)) (?:\w+ ){0,3}(?:in|for|since) (?:\d+|two|three|four|five|six|"
            r"seven|a|several|many) (?:days?|weeks?)\b",
            r"\b(?:purg\w*|throwing up|threw up|vomiting|making myself sick|made myself sick)\b"
            r"(?: \w+){0,6} (?:blood|again|every|after (?:every|each)|\d+ times)\b",
            r"\b(?:throwing up|vomiting|coughing up|threw up) blood\b",
            r"\b(?:fainted|fainting|passed out|blacked out|collapsed|dizzy|chest (?:pain|hurts)|"
            r"heart (?:is )?(?:racing|fluttering|skipping|pounding))\b(?: \w+){0,8} "
            r"(?:eaten|eating|food|calories|fasting|restrict\w*|weight|laxatives|purg\w*)\b",
            r"\b(?:\d+|under \d+|less than \d+) (?:calories|cals|kcal)\b",
            r"\b(?:laxatives|diuretics|diet pills)\b",
            r"\bstarv(?:e|ing|ed) (?:myself|my body)\b",
        ),
    ),
    (
        "hurt_now",
        (
            r"\b(?:he|she|they|my (?:\w+ )?(?:husband|wife|partner|boyfriend|girlfriend|bf|gf|ex|"
            r"dad|father|stepdad|mum|mom|mother|brother|son|uncle))(?: \w+){0,2} (?:hit|hits|"
            r"hitting|punched|punches|slapped|slaps|kicked|kicks|choked|chokes|strangled|"
            r"pushed|shoved|beat|beats|beating|hurt|hurts|raped|grabbed|threw|throws|locked|"
            r"locks|threatened|threatens|threatening) (?:me|my|us)\b",
            r"\b(?:said|says|saying|told me|threatened|threatens|swore) (?:that )?(?:hell|he will|"
            r"hed|he would|shell|she will|theyll|they will|to) (?:kill|hurt|find|get) (?:me|us)\b",
            r"\b(?:scared|afraid|terrified|frightened) (?:of (?:him|her|them|going home)|to go "
            r"home|hell|he will|hes going to|shell|for my life)\b",
            r"\b(?:outside|at|banging on|kicking) (?:my|the) (?:door|window|house|flat)\b",
            r"\b(?:following|followed|watching|stalking) me\b",
            r"\b(?:hiding|locked myself) in (?:the|my) (?:bathroom|bedroom|car|room)\b",
            r"\bwont let me (?:leave|go|out|eat|sleep|call|see)\b",
        ),
    ),
    (
        "caregiver_harm",
        (
            r"\b(?:thought|thinking|think|thoughts|scared|afraid|terrified|worried|frightened|"
            r"urge|wanted|want) (?:\w+ ){0,3}(?:hurt|hurting|harm|harming|smother|smothering|"
            r"suffocat\w*|shake|shaking|shook|hit|hitting|push|pushing|strangl\w*|drown\w*|"
            r"snap and|lose it and) (?:him|her|them|mum|mom|dad|my (?:\w+ )?(?:mum|mom|mam|mother|"
            r"dad|father|husband|wife|son|daughter|baby|child|boy|girl|partner|patient|"
            r"resident))\b",
            r"\bpillow (?:\w+ ){0,4}(?:face|over (?:his|her))\b|\b(?:held|holding) (?:the|a) "
            r"pillow\b",
            r"\b(?:double|extra|all (?:his|her|their)) (?:\w+ )?(?:dose|doses|pills|tablets|"
            r"meds|insulin|morphine)\b(?: \w+){0,6} (?:end it|never wake|wouldnt wake|be over|"
            r"would stop|so he|so she)\b",
            r"\b(?:wish|wished|pray|prayed|hope) (?:\w+ ){0,2}(?:he|she|they|mum|dad) "
            r"(?:would|could|would just|just) (?:die|go|not wake up|pass)\b",
        ),
    ),
    (
        "other_at_risk",
        (
            r"\b(?:wants?|wanted|wanting|talking about|talks about|keeps saying|said|says|told me|"
            r"texted|messaged|posted|threatening|threatened|tried|trying|going) (?:\w+ ){0,3}"
            r"(?:to )?(?:kill (?:himself|herself|themselves|themself)|end (?:his|her|their) "
            r"(?:life|lives)|die|be dead|suicide|not be here|end it|overdose|jump)\b",
            r"\b(?:kill|killing|killed|hurt|hurting|harm|harming|cut|cutting|burn|burning|"
            r"starv\w*) (?:himself|herself|themselves|themself)\b",
            r"\b(?:he|she|they|hes|shes|theyve|hes|shes) (?:has |have |just |already )?(?:took|"
            r"taken|swallowed|overdosed|downed|necked)\b",
            r"\b(?:found|saw|seen|noticed) (?:\w+ ){0,3}(?:cuts|scars|blood|burns|marks|blades|"
            r"razors|pills|a note|a letter|rope)\b(?: \w+){0,4} (?:on|in|under) (?:his|her|their)\b",
            r"\b(?:not|isnt|hasnt been|wont|stopped) (?:answering|picking up|replying|responding|"
            r"home|been seen)\b",
            r"\b(?:missing|gone missing|disappeared|cant find (?:him|her|them))\b",
            r"\b(?:sent|texted|posted|left) (?:\w+ ){0,3}(?:a )?(?:goodbye|bye|farewell|"
            r"i love you all|weird|final) (?:message|text|post|note|letter)?\b",
            r"\b(?:giving|gave|given) (?:away )?(?:his|her|their) (?:things|stuff|belongings)\b",
            r"\b(?:he|she|they) (?:is|are|s|re) (?:being )?(?:hit|beaten|hurt|abused|threatened|"
            r"starved|neglected|locked in)\b|\b(?:hits|beats|hurts|abuses|threatens) (?:him|her|"
            r"them|my (?:\w+ )?(?:mum|mom|dad|son|daughter|sister|brother|kids|child|nan|gran))\b",
        ),
    ),
    (
        "mention",
        (
            r"\bsuicid\w*\b|\bself ?harm\w*\b|\boverdos\w*\b|\bkill(?:ed|ing)? (?:myself|"
            r"himself|herself|themselves)\b",
        ),
    ),
    (
        "context",
        (
            r"\b(?:awareness|prevention|training|course|workshop|asist|first aid|campaign|"
            r"fundraiser|fundraising|charity|walk|memorial|vigil|helpline|hotline|webinar|"
            r"research|statistics|documentary|film|movie|song|album|book|novel|episode|series|"
            r"show|game|podcast|article|news|headline)\b",
            r"\b(?:lol|lmao|lmfao|haha+|jk|joking|kidding)\b",
        ),
    ),
)

# What scopes a phrase inside its clause.
_NEGATION = re.compile(
    r"\b(?:not|never|no longer|dont|didnt|doesnt|wont|wouldnt|isnt|arent|wasnt|aint|cant say|"
    r"nothing like|no way|nor|neither|without)\b(?! (?:sure|safe|okay|ok|coping|able|good|fine|"
    r"well|want to (?:be|live|wake|go on|exist)|wake up|see (?:a|any|the) (?:point|way|reason)|"
    r"be here|be around|eaten|going to be here|stop|cope|see myself|live|enough|anymore|"
    r"any more|long|for long|much longer)\b)"
)
_PAST = re.compile(
    r"\b(?:used to|years? ago|months? ago|weeks ago|long ago|back (?:then|in|when)|when i was "
    r"(?:younger|little|a kid|a teen|\d+|in)|as a (?:teen|teenager|kid|child)|in my "
    r"(?:teens|twenties|20s|past)|at (?:uni|university|school)|in (?:19|20)\d\d|since|"
    r"(?:days?|weeks?|months?|years?) (?:free|clean|sober|without)|free (?:from|of)|clean from|"
    r"recovered|recovery|survived|survivor|anniversary|milestone|that was|once upon|"
    r"the old me|old me|nearly (?:\d+|two|three|five|ten) years|\d+ (?:days?|months?|years?) "
    r"(?:since|ago|clean|sober|free)|chip|proud|the last time|last time i|back when|when i|"
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|a|\d+) (?:years?|months?|yrs?)|"
    r"first year|that (?:winter|summer|year|time|night)|after my (?:attempt|overdose)|since my|"
    r"my (?:suicide )?attempt|attempted|free today)\b"
)
_NOW = re.compile(
    r"\b(?:again|last night|tonight|this (?:morning|afternoon|evening)|right now|"
    r"rn|at the moment|currently|still|its back|it s back|back again|came back|coming back|"
    r"relapsed|relapse|slipped|broke my|lost my|reset my|day (?:one|1)|just now|an hour ago|"
    r"minutes ago|earlier|anymore|any more|these days|lately|recently)\b"
)
_QUOTE_OR_TITLE = re.compile(
    r"\b(?:film|movie|song|album|book|novel|episode|series|show|game|lyrics|called|titled|"
    r"documentary|podcast|article|watched|watching|reading|read|lol|lmao|jk|joking|kidding|"
    r"haha\w*|awareness|prevention|training|course|workshop|petition|campaign|fundraiser|"
    r"charity|volunteer\w*|listening line|helpline|webinar|asked (?:me )?(?:if|whether)|"
    r"any thoughts|if i ever|if id (?:ever|had)|asking|ask (?:someone|them|people|if)|"
    r"mission|squad)\b"
)


@dataclass(frozen=True)
class Signal:
    """One phrase of risk found in a clause, and how it is scoped."""

    kind: str  # the phrase's category: ideation, self_harm, overdose_taken, other_at_risk, ...
    clause: int
    negated: bool = False
    past: bool = False
    other: bool = False  # the clause is about someone else, not the writer
    titled: bool = False  # a film, book or song is named in the clause

    @property
    def name(self) -> str:
        """Return the feature name: the kind and its scope ("ideation:neg:past")."""
        scope = [
            label
            for flag, label in (
                (self.negated, "neg"),
                (self.past, "past"),
                (self.other, "other"),
                (self.titled, "title"),
            )
            if flag
        ]
        return ":".join([self.kind, *scope])

    @property
    def live(self) -> bool:
        """Say whether the phrase speaks of the writer now (not negated, past or quoted)."""
        return not (self.negated or self.past or self.other or self.titled)


_OLD_KINDS = {"direct": "ideation", "indirect": "ideation", "slang": "ideation",
              "self-harm": "self_harm"}  # fmt: skip
_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (_OLD_KINDS.get(kind, kind), re.compile(pattern))
    for kind, patterns in (*PHRASES, *NEWER)
    for pattern in patterns
)
# A cheap gate: a clause with none of these stems cannot match any phrase above.
_OTHER_RE = re.compile(_OTHER_SUBJECT)
_FIRST_RE = re.compile(_FIRST_PERSON)
_SELF_KINDS = {"ideation", "self_harm", "overdose_taken", "means", "plan", "goodbye",
               "arrangements", "eating_disorder"}  # fmt: skip


def _scope(clauses: list[str], index: int, kind: str, start: int) -> Signal | None:
    clause = clauses[index]
    before = clause[:start]
    if kind == "other_at_risk" and not _OTHER_RE.search(clause):
        return None  # "tried to end it" with no one else in the clause is the writer
    negated = bool(_NEGATION.search(" ".join(before.split()[-5:])))
    nearby = " ".join(clauses[max(0, index - 1) : index + 2])
    past = bool(_PAST.search(clause)) and not _NOW.search(clause)
    if not past and _PAST.search(nearby) and not _NOW.search(nearby):
        past = bool(_PAST.search(clauses[index - 1] if index else ""))
    other = False
    if kind in _SELF_KINDS:
        # "my son wants to die", but not "my son found me after I took them".
        other = bool(_OTHER_RE.search(before)) and not _FIRST_RE.search(before.split(" ")[-1])
        other = other and not re.search(r"\b(?:i|im|ive|id|ill)\b", before)
    titled = bool(_QUOTE_OR_TITLE.search(clause))
    return Signal(kind, index, negated=negated, past=past, other=other, titled=titled)


def signals(reading: str) -> list[Signal]:
    """Return every phrase of risk in a reading, clause by clause, with its scope."""
    clauses = reading.split(" . ")
    # Where each clause starts in the reading, to place a match found in the whole of it.
    starts, offset = [], 0
    for clause in clauses:
        starts.append(offset)
        offset += len(clause) + 3
    found: dict[tuple[str, int], Signal] = {}

    def record(kind: str, index: int, start: int) -> None:
        if (kind, index) not in found:
            signal = _scope(clauses, index, kind, start)
            if signal is not None:
                found[(kind, index)] = signal

    # Phrases with no first word to look for are searched in the whole reading (a phrase
    # never spans " . ", so each match lies inside one clause) ...
    for number in _UNGATED:
        kind, pattern = _COMPILED[number]
        for match in pattern.finditer(reading):
            index = bisect_right(starts, match.start()) - 1
            record(kind, index, match.start() - starts[index])
    # ... and the rest only in the clauses holding one of their first words, found for all
    # phrases at once by one search for every first word.
    candidates: dict[int, set[int]] = {}
    for match in _FIRST_WORDS.finditer(reading):
        index = bisect_right(starts, match.start()) - 1
        end = reading.find(" ", match.start())
        token = reading[match.start() : end if end >= 0 else len(reading)]
        found_here = candidates.setdefault(index, set())
        # Several phrases may start with this word, as a whole word or by its first letters.
        found_here.update(_BY_WORD.get(token, ()))
        for size in range(2, len(token) + 1):
            found_here.update(_PREFIXED.get(token[:size], ()))
    for index, numbers in sorted(candidates.items()):
        clause = clauses[index]
        for number in sorted(numbers):
            kind, pattern = _COMPILED[number]
            match = pattern.search(clause)
            if match is not None:
                record(kind, index, match.start())
    return sorted(found.values(), key=lambda signal: signal.clause)


# Decisive on their own: a present, first-person phrase of these kinds means tier 1.
_DECISIVE = {"overdose_taken", "means", "plan", "self_harm", "ideation", "eating_disorder",
             "hurt_now", "goodbye", "arrangements"}  # fmt: skip


def strong(found: list[Signal]) -> Signal | None:
    """Return the first signal that alone shows the writer at risk now, if any."""
    for signal in found:
        if signal.kind in _DECISIVE and signal.live:
            return signal
    return None


# -- a cheap gate ------------------------------------------------------------------------------
# Most clauses of a long reflection hold no phrase of risk, and scanning 5,000 characters once
# per phrase costs ~15 ms. Each phrase's possible first words are read off its pattern; a phrase
# runs only when one of them occurs in the text (a plain substring test, so never too strict).

_LEADING = re.compile(r"^(?:\(\?<!(?:[^()\\]|\\.)*\)|\\b|\(\?<=(?:[^()\\]|\\.)*\))+")
_LITERAL = re.compile(r"[a-z0-9 ]*")


def _group_end(pattern: str, start: int) -> int:
    """Return the index just past the group opening at ``start``."""
    depth, index = 0, start
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return -1


def _split_top(body: str) -> list[str]:
    """Split a group's body at its top-level ``|``."""
    parts, depth, current, index = [], 0, [], 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            current.append(body[index : index + 2])
            index += 2
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _prefix(alternative: str) -> str:
    """Return the literal start of one alternative (without a char a quantifier may drop)."""
    if alternative.startswith("(?:"):
        end = _group_end(alternative, 0)
        if end < 0 or alternative[end : end + 1] in ("?", "*", "{"):
            return ""
        heads = {_prefix(part) for part in _split_top(alternative[3 : end - 1])}
        return "" if "" in heads or len(heads) != 1 else heads.pop()
    literal = _LITERAL.match(alternative).group()
    following = alternative[len(literal) : len(literal) + 1]
    if following in ("?", "*", "{") and literal:
        literal = literal[:-1]
    return literal


def first_words(pattern: str) -> frozenset[str] | None:
    """Return the literal starts one of which every match must begin with, or None."""
    branches = _split_top(pattern)
    if len(branches) > 1:
        heads: set[str] = set()
        for branch in branches:
            sub = first_words(branch)
            if sub is None:
                return None
            heads |= sub
        return frozenset(heads)
    if not re.match(r"^(?:\(\?<!(?:[^()\\]|\\.)*\))*\\b", pattern):
        return None  # only a match that starts a word can be found by its first word
    body = _LEADING.sub("", pattern)
    if body.startswith("(?:"):
        end = _group_end(body, 0)
        if end < 0 or body[end : end + 1] in ("?", "*", "{"):
            return None
        heads = []
        spaced = body[end : end + 1] == " "
        for part in _split_top(body[3 : end - 1]):
            head = _prefix(part)
            if spaced and head == part:
                head += " "  # a whole word: "(?:want|need) " starts with the word "want"
            if part.startswith("(?:"):
                sub = first_words(part)
                if sub is None:
                    return None
                heads.extend(sub)
                continue
            if len(head.strip()) < 2:
                return None
            heads.append(head)
        return frozenset(heads)
    head = _prefix(body)
    return frozenset([head]) if len(head.strip()) >= 2 else None


_GATES: tuple[frozenset[str] | None, ...] = tuple(
    first_words(pattern.pattern) for _kind, pattern in _COMPILED
)
_UNGATED: tuple[int, ...] = tuple(n for n, gate in enumerate(_GATES) if gate is None)


def _heads() -> tuple[dict[str, frozenset[int]], dict[str, tuple[tuple[str, frozenset[int]], ...]]]:
    """Return the phrases by their whole first word, and by a first word's first letters."""
    exact: dict[str, set[int]] = {}
    prefixes: dict[str, set[int]] = {}
    for number, gate in enumerate(_GATES):
        for words in gate or ():
            head, space, _ = words.partition(" ")
            # "no one" starts with the whole word "no"; "pills?" only with the letters "pill".
            (exact if space else prefixes).setdefault(head, set()).add(number)
    table: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for head, numbers in prefixes.items():
        table.setdefault(head[:2], []).append((head, frozenset(numbers)))
    return (
        {head: frozenset(numbers) for head, numbers in exact.items()},
        {key: tuple(value) for key, value in table.items()},
    )


_BY_WORD, _BY_HEAD = _heads()
_PREFIXED: dict[str, frozenset[int]] = {
    head: numbers for entries in _BY_HEAD.values() for head, numbers in entries
}
_FIRST_WORDS = re.compile(
    r"\b(?:(?:"
    + "|".join(re.escape(word) for word in sorted(_BY_WORD, key=len, reverse=True))
    + r")\b|(?:"
    + "|".join(re.escape(head) for head in sorted(_PREFIXED, key=len, reverse=True))
    + "))"
)
