"""Word lists for generated names: function names, string constants, people, rooms and objects.

Names are random 1-3 word snake_case combinations of WORDS, so a policy cannot memorise them: it must copy
the name from the prompt. Train and held-out tasks draw from the same words but never share a full name
(dense_rl.tasks.code_tasks splits names by a hash).
"""

WORDS = tuple(
    """
    apple amber anchor angle arrow atlas autumn badge bakery balance bamboo banner barrel basket beacon berry
    blossom border bottle branch breeze bridge bright bronze bucket budget buffer button cabin cactus camera
    candle canvas canyon carbon cargo carpet castle cedar cellar center chalk channel chapter charm cherry
    circle citrus clever cliff clock cloud clover cobalt comet compass copper coral cotton counter cradle
    crane crater crystal cupboard current cursor dawn delta desert diamond digit dinner dollar dragon drift
    eagle echo elder ember engine entry falcon feather fence fiber field figure filter flame flint forest
    fossil fountain frame frost galaxy garden garnet gentle giant ginger glacier globe golden granite gravel
    harbor harvest hazel helmet hollow honey horizon island ivory jacket jasmine jungle kernel kettle ladder
    lantern laser lemon level lilac linen lizard lobster lotus lucky magnet mango maple marble meadow melon
    meteor mirror mobile monkey mosaic motor nectar needle nickel noble number oasis ocean olive onion orbit
    orchid oyster paddle palace panda paper parrot pebble pepper pilot pixel planet plaza pocket polar pony
    portal potato prism pulse puzzle quartz rabbit radar rapid raven ribbon river rocket rustic saddle safari
    salmon sandal scarlet shadow shell signal silver simple sketch slope socket solar spark spice spiral
    spring square stable starch steady stone storm summit sunny tablet talon temple thunder ticket tiger
    timber
    token topaz tower trail travel tulip tunnel turtle velvet vessel violet voyage walnut wander water willow
    window winter wizard yellow zebra zenith
    """.split()
)

PEOPLE = tuple(
    """
    ava ben chloe dan ella finn grace hugo iris jack kira leo maya nora omar paul quinn rosa sam tara uma
    victor wendy xavier yara zoe adam beth carl diana eric fiona george hannah ivan julia kevin laura
    """.split()
)

# Rooms a generated robot world may name. Deliberately generic; "<person>'s office" adds many more.
ROOMS = (
    "kitchen",
    "lobby",
    "mail room",
    "library",
    "garage",
    "storage room",
    "break room",
    "copy room",
    "game room",
    "main hall",
    "workshop",
    "reception",
    "server room",
    "gym",
    "studio",
    "lab",
)

OBJECTS = (
    "apple",
    "book",
    "cup",
    "pen",
    "key",
    "box",
    "ball",
    "phone",
    "bottle",
    "tray",
    "folder",
    "charger",
    "mug",
    "plate",
    "towel",
    "umbrella",
    "notebook",
    "scissors",
    "lamp",
    "helmet",
)
