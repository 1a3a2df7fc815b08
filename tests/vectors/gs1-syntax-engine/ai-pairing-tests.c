	/*
	 * "Ex" attribute
	 *
	 */
	test_validateAIs(false, validateAImutex, "(01)12345678901231(02)12345678901231");
	test_validateAIs(false, validateAImutex, "(99)ABC123(01)12345678901231(02)12345678901231");
	test_validateAIs(false, validateAImutex, "(01)12345678901231(99)ABC123(02)12345678901231");
	test_validateAIs(false, validateAImutex, "(01)12345678901231(02)12345678901231(99)ABC123");
	test_validateAIs(false, validateAImutex, "(01)12345678901231(255)5412345000150");
	test_validateAIs(false, validateAImutex, "(01)12345678901231(37)123");
	test_validateAIs(false, validateAImutex, "(21)ABC123(235)XYZ");
	test_validateAIs(false, validateAImutex, "(3940)1234(8111)9999");
	test_validateAIs(false, validateAImutex, "(3940)1234(3941)9999");	// Match by "394n", ignoring self
	test_validateAIs(false, validateAImutex, "(3955)123456(3929)123");	// Match by "392n"

	// Mutex between known and unknown AIs: (3333) ex=333n should conflict with unknown (3338)
	test_validateAIs(false, validateAImutex, "(3333)333333(3338)030333");
	test_validateAIs(false, validateAImutex, "(01)12345678901231(3333)333333(3338)030333");
	test_validateAIs(false, validateAImutex, "(3338)030333(3333)333333");
	test_validateAIs(false, validateAImutex, "(3300)000000(3333)333333(3338)030333");	// Extra 33xx AI shifts sort order


	/*
	 * "Req" attributes
	 *
	 */

	// (02) req=37; (37) req=02,8026
	test_validateAIs(false, validateAIrequisites, "(02)12345678901231");
	test_validateAIs(false, validateAIrequisites, "(02)12345678901231(37)123");
	test_validateAIs(false, validateAIrequisites, "(99)AAA(02)12345678901231(37)123");
	test_validateAIs(false, validateAIrequisites, "(02)12345678901231(99)AAA(37)123");
	test_validateAIs(false, validateAIrequisites, "(02)12345678901231(37)123(99)AAA");
	test_validateAIs(true,  validateAIrequisites, "(02)12345678901231(37)123(00)123456789012345675");
	test_validateAIs(true,  validateAIrequisites, "(91)XXX(02)12345678901231(92)YYY(37)123(93)ZZZ(00)123456789012345675");

	// (21) req=01,8006
	test_validateAIs(false, validateAIrequisites, "(21)ABC123");
	test_validateAIs(true,  validateAIrequisites, "(21)ABC123(01)12345678901231");
	test_validateAIs(true,  validateAIrequisites, "(21)ABC123(8006)123456789012310510");

	// (250) req=01,8006 req=21
	test_validateAIs(false, validateAIrequisites, "(01)12345678901231(250)ABC123");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(21)XYZ999(250)ABC123");

	// (392n) req=01 req=30,31nn,32nn,35nn,36nn
	test_validateAIs(false, validateAIrequisites, "(01)12345678901231(3925)12599");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(30)123");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3100)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3105)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3160)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3165)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3295)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3500)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3575)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3600)654321");
	test_validateAIs(true,  validateAIrequisites, "(01)12345678901231(3925)12599(3695)654321");

	// (8030) req=00,01+21,253,255,8003,8004,8006+21,8010+8011,8017,8018
	test_validateAIs(false, validateAIrequisites, "(8030)DIGSIG");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(00)123456789012345675");
	test_validateAIs(false, validateAIrequisites, "(8030)DIGSIG(01)12345678901231");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(01)12345678901231(21)ABC123");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(253)1234567890128X");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(255)12345678901280");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(8003)01234567890128X");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(8004)01234567890");
	test_validateAIs(false, validateAIrequisites, "(8030)DIGSIG(8006)123456789012310102");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(8006)123456789012310102(21)ABC123");
	test_validateAIs(false, validateAIrequisites, "(8030)DIGSIG(8010)1234567890");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(8010)1234567890(8011)123456789012");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(8017)123456789012345675");
	test_validateAIs(true,  validateAIrequisites, "(8030)DIGSIG(8018)123456789012345675");
