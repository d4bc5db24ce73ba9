/* placeholder */ typedef int fsc__placeholder;
